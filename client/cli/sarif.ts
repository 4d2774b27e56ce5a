/**
 * The compliance report of `audit report` and its SARIF 2.1.0 form, so security scanners and
 * code-scanning dashboards can ingest cachevault findings like any other tool's.
 */

export type FindingRule = 'encryption-disabled' | 'unencrypted-entries' | 'key-age-exceeded' | 'audit-chain-broken' | 'audit-log-missing' | 'audit-chain-unverified' | 'key-provider-fallback' | 'backend-fallback';

export interface ComplianceFinding {
  readonly rule: FindingRule;
  readonly level: 'error' | 'warning' | 'note';
  readonly message: string;
  /** File the finding is about (config file, audit log), when there is one. */
  readonly location: string | undefined;
}

export interface ComplianceReport {
  readonly generatedAt: string;
  readonly backend: string;
  readonly namespace: string;
  readonly encryption: {
    readonly enabled: boolean;
    readonly algorithm: string;
    readonly entries: number;
    readonly unencryptedEntries: number;
    readonly encryptedShare: number | null;
    readonly entriesByKeyId: Record<string, number>;
  };
  readonly keys: { readonly maxKeyAgeDays: number; readonly versions: readonly { id: string; state: string; ageDays: number; overAge: boolean }[] };
  readonly auditChain: { readonly path: string; readonly exists: boolean; readonly ok: boolean; readonly status: string; readonly records: number; readonly anchoredSeq: number | null; readonly unanchored: number; readonly problem: string | null };
  readonly fallbacks: { readonly keyProvider: number; readonly backend: string | null };
  readonly findings: readonly ComplianceFinding[];
}

const RULES: Readonly<Record<FindingRule, { id: string; short: string; help: string }>> = {
  'encryption-disabled': { id: 'CV001', short: 'Cache encryption is disabled', help: 'Set encryption.enabled to true and run `cachevault encryption enable`.' },
  'unencrypted-entries': { id: 'CV002', short: 'Entries are stored unencrypted', help: 'Run `cachevault encryption enable` to rewrite them encrypted.' },
  'key-age-exceeded': { id: 'CV003', short: 'A data key is older than the rotation policy', help: 'Run `cachevault encryption rotate` (keys.maxKeyAgeDays sets the policy).' },
  'audit-chain-broken': { id: 'CV004', short: 'The audit log chain is broken', help: 'The log was edited, forged, cut or deleted; investigate, keep the file as evidence, start a new log.' },
  'audit-log-missing': { id: 'CV005', short: 'Keys exist but there is no audit log', help: 'Keep audit.enabled on and check audit.path; if it was deleted, investigate.' },
  'audit-chain-unverified': { id: 'CV008', short: 'The audit log cannot be verified', help: 'Legacy (unkeyed) records, or records with no MAC this client can check: see `cachevault audit verify`.' },
  'key-provider-fallback': { id: 'CV006', short: 'A key provider fallback was taken', help: 'Check the preferred key provider (KMS credentials, keyring) with `cachevault config test`.' },
  'backend-fallback': { id: 'CV007', short: 'The fallback backend is running', help: 'Check the preferred backend with `cachevault health` and `cachevault config test`.' },
};

/** SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/), one run, one result per finding. */
export function complianceToSarif(report: ComplianceReport): Record<string, unknown> {
  const ruleIds = Object.keys(RULES) as FindingRule[];
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'cachevault',
            rules: ruleIds.map((r) => ({ id: RULES[r].id, name: r, shortDescription: { text: RULES[r].short }, help: { text: RULES[r].help } })),
          },
        },
        invocations: [{ executionSuccessful: true, endTimeUtc: report.generatedAt }],
        results: report.findings.map((f) => ({
          ruleId: RULES[f.rule].id,
          ruleIndex: ruleIds.indexOf(f.rule),
          level: f.level,
          message: { text: f.message },
          ...(f.location ? { locations: [{ physicalLocation: { artifactLocation: { uri: `file://${f.location}` } } }] } : {}),
        })),
        properties: { encryptedShare: report.encryption.encryptedShare, entries: report.encryption.entries, auditChainOk: report.auditChain.ok },
      },
    ],
  };
}
