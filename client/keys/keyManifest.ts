import { z } from 'zod';
import { KeyStateError, ManifestError } from './errors';
import type { WrappedKey } from './keyProvider';
import { KEY_PROVIDER_NAMES } from './providerRegistry';

/**
 * The key manifest: every data key version with its state and wrapped material. Its secrecy is
 * safe anywhere (it holds only ciphertext: DEKs wrapped by KMS or a local root key), its
 * integrity is not: format 2 carries a MAC over everything else in it (manifestSeal.ts), each
 * version a key-check value committing to its plaintext key (keyCheck.ts), and clients refuse a
 * revision lower than one they have seen (revisionPin.ts). See docs/key-management.md.
 */

export const KeyState = { active: 'active', decryptOnly: 'decrypt-only', retired: 'retired' } as const;
export type KeyState = (typeof KeyState)[keyof typeof KeyState];

export interface KeyVersionRecord {
  /** `k1`, `k2`, ... */
  readonly id: string;
  /** ISO-8601. */
  readonly createdAt: string;
  readonly state: KeyState;
  /**
   * No KMS wrapping: only machines holding the local root key can unwrap it, so entries sealed
   * under it must stay off the shared tier.
   */
  readonly localOnly: boolean;
  /** Empty once retired. */
  readonly wrapped: readonly WrappedKey[];
  readonly retiredAt?: string;
  /**
   * Key-check value: base64 of HMAC-SHA-256(data key, "cachevault key check v1"). Verified after
   * every unwrap and backup import, so a substituted wrapping (another key under the same KMS
   * context) is refused. Absent only in manifests written before format 2, until sealed.
   */
  readonly check?: string;
}

/** The audit log's head, anchored where a writer of the log cannot reach it. */
export interface AuditHead {
  /** Sequence number of the last record. */
  readonly seq: number;
  /** The chain MAC of that record (as the audit log encodes it). */
  readonly mac: string;
}

/** The manifest's MAC (format 2). */
export interface ManifestMac {
  readonly alg: 'hmac-sha256';
  /**
   * Which key made it: `local:<provider ref>#<root key fingerprint>` (an HKDF subkey of a local
   * root key) or `kms:<KMS HMAC key ARN>`. A client only accepts the one it is configured with.
   */
  readonly keyRef: string;
  /** Base64 of the 32-byte MAC. */
  readonly value: string;
}

export interface KeyManifest {
  readonly format: 'cachevault-key-manifest';
  /** 1: unauthenticated (legacy, read only until sealed); 2: may carry `mac`, `check`, `auditHead`. */
  readonly formatVersion: 1 | 2;
  readonly app: string;
  readonly environment: string;
  /** Incremented on every change; clients refuse a revision lower than the highest they saw. */
  readonly revision: number;
  readonly versions: readonly KeyVersionRecord[];
  /** The audit log's head (covered by the MAC). */
  readonly auditHead?: AuditHead;
  /** Over every other field; see manifestSeal.ts. */
  readonly mac?: ManifestMac;
}

/** The manifest format this version writes. */
export const MANIFEST_FORMAT_VERSION = 2;

const KEY_VERSION_ID = /^k[1-9][0-9]{0,8}$/;

/** Whether `id` has the form of a manifest version id (process-local fallback ids do not). */
export function isVersionId(id: string): boolean {
  return KEY_VERSION_ID.test(id);
}

const WrappedKeySchema = z.strictObject({
  provider: z.enum(KEY_PROVIDER_NAMES),
  wrappingKeyRef: z.string().min(1).max(2048),
  ciphertext: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/).max(8192),
});

const VersionSchema = z.strictObject({
  id: z.string().regex(KEY_VERSION_ID),
  createdAt: z.iso.datetime(),
  state: z.enum(['active', 'decrypt-only', 'retired']),
  localOnly: z.boolean(),
  wrapped: z.array(WrappedKeySchema),
  retiredAt: z.iso.datetime().optional(),
  check: z.string().regex(/^[A-Za-z0-9+/]{43}=$/).optional(),
});

const ManifestV1Schema = z.strictObject({
  format: z.literal('cachevault-key-manifest'),
  formatVersion: z.literal(1),
  app: z.string().min(1),
  environment: z.string().min(1),
  revision: z.number().int().nonnegative(),
  versions: z.array(VersionSchema.omit({ check: true })),
});

const ManifestV2Schema = ManifestV1Schema.extend({
  formatVersion: z.literal(2),
  versions: z.array(VersionSchema),
  auditHead: z.strictObject({ seq: z.number().int().nonnegative(), mac: z.string().min(1).max(256) }).optional(),
  mac: z
    .strictObject({
      alg: z.literal('hmac-sha256'),
      keyRef: z.string().min(1).max(2048),
      value: z.string().regex(/^[A-Za-z0-9+/]{43}=$/),
    })
    .optional(),
});

export function emptyManifest(app: string, environment: string): KeyManifest {
  return { format: 'cachevault-key-manifest', formatVersion: MANIFEST_FORMAT_VERSION, app, environment, revision: 0, versions: [] };
}

/** Parses and checks a stored manifest; `where` names the store for error messages. */
export function parseManifest(text: string, where: string): KeyManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(`The key manifest at ${where} is not valid JSON.`, {
      cause: error,
      hint: 'Restore it from a key backup (`cachevault keys restore FILE`); it is not safe to edit by hand.',
    });
  }
  const head = json as { formatVersion?: unknown };
  if (typeof head === 'object' && head !== null && typeof head.formatVersion === 'number' && head.formatVersion > MANIFEST_FORMAT_VERSION) {
    throw new ManifestError(`The key manifest at ${where} was written by a newer cachevault (format ${head.formatVersion}).`, {
      hint: 'Upgrade cachevault on this machine.',
    });
  }
  const parsed = (head?.formatVersion === 1 ? ManifestV1Schema : ManifestV2Schema).safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ManifestError(`The key manifest at ${where} is malformed (${issue?.path.join('.') || 'root'}: ${issue?.message ?? 'invalid'}).`, {
      hint: 'Restore it from a key backup (`cachevault keys restore FILE`); it is not safe to edit by hand.',
    });
  }
  const manifest = parsed.data as KeyManifest;
  checkInvariants(manifest, where);
  return manifest;
}

export function serializeManifest(manifest: KeyManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** At most one active version; ids unique; non-retired versions keep at least one wrapping. */
export function checkInvariants(manifest: KeyManifest, where: string): void {
  const ids = new Set<string>();
  let active = 0;
  for (const v of manifest.versions) {
    if (ids.has(v.id)) throw new ManifestError(`The key manifest at ${where} lists key version ${v.id} twice.`);
    ids.add(v.id);
    if (v.state === KeyState.active) active += 1;
    if (v.state !== KeyState.retired && v.wrapped.length === 0) {
      throw new ManifestError(`Key version ${v.id} in the manifest at ${where} has no wrapped material.`, {
        hint: 'Restore the manifest from a key backup.',
      });
    }
  }
  if (active > 1) throw new ManifestError(`The key manifest at ${where} has ${active} active key versions; exactly one may be active.`);
}

export function activeVersion(manifest: KeyManifest): KeyVersionRecord | undefined {
  return manifest.versions.find((v) => v.state === KeyState.active);
}

export function findVersion(manifest: KeyManifest, id: string): KeyVersionRecord | undefined {
  return manifest.versions.find((v) => v.id === id);
}

/** The id the next version gets: one above the highest ever used (retired ids are never reused). */
export function nextVersionId(manifest: KeyManifest): string {
  const highest = manifest.versions.reduce((max, v) => Math.max(max, Number(v.id.slice(1))), 0);
  return `k${highest + 1}`;
}

/** Adds `version` as the active one; the previous active version becomes decrypt-only. */
export function withNewActive(manifest: KeyManifest, version: KeyVersionRecord): KeyManifest {
  return {
    ...manifest,
    revision: manifest.revision + 1,
    versions: [
      ...manifest.versions.map((v) => (v.state === KeyState.active ? { ...v, state: KeyState.decryptOnly } : v)),
      { ...version, state: KeyState.active },
    ],
  };
}

/** Records the audit log's head (the next seal covers it). */
export function withAuditHead(manifest: KeyManifest, head: AuditHead): KeyManifest {
  return { ...manifest, revision: manifest.revision + 1, auditHead: { seq: head.seq, mac: head.mac } };
}

/** Retires a decrypt-only version and drops its wrapped material. */
export function withRetired(manifest: KeyManifest, id: string, at: string): KeyManifest {
  const version = findVersion(manifest, id);
  if (!version) throw new KeyStateError(`Key version ${id} is not in the manifest.`, { hint: 'Run `cachevault encryption status` to list versions.' });
  if (version.state !== KeyState.decryptOnly) {
    throw new KeyStateError(`Key version ${id} is ${version.state}; only decrypt-only versions can be retired.`, {
      hint:
        version.state === KeyState.active
          ? 'Rotate first (a new active version), re-encrypt entries under the old one, then retire it.'
          : 'It is already retired.',
    });
  }
  return {
    ...manifest,
    revision: manifest.revision + 1,
    versions: manifest.versions.map((v) => (v.id === id ? { ...v, state: KeyState.retired, wrapped: [], retiredAt: at } : v)),
  };
}
