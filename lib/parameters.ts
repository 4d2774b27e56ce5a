/**
 * Typed per-environment parameters. `bin/app.ts` picks one set with `-c env=NAME`; everything that
 * differs between dev, staging and prod lives here and nowhere else, so a reviewer can compare
 * environments side by side.
 */
import type { TableBilling } from './constructs/cacheTable';

export type { TableBilling };

/** The environments this app deploys to. */
export const ENVIRONMENT_NAMES = ['dev', 'staging', 'prod'] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

export interface EnvironmentParameters {
  /** Environment name; bound into KMS encryption contexts and the key-manifest secret name. */
  readonly envName: EnvironmentName;
  /** Application name (KMS encryption context `app`, secret name, resource names). */
  readonly app: string;
  /**
   * Account and region to pin the stacks to. Left undefined the stacks are environment-agnostic,
   * which is what lets `cdk synth` run offline with no credentials.
   * @default undefined (environment-agnostic)
   */
  readonly account?: string;
  readonly region?: string;
  /** DynamoDB table name. */
  readonly tableName: string;
  readonly billing: TableBilling;
  /**
   * `retain`: table, keys and secret survive stack deletion and the table has deletion
   * protection. `destroy`: everything goes with the stack (throwaway environments only).
   */
  readonly retention: 'retain' | 'destroy';
  /** Days between automatic rotations of the data key (Secrets Manager rotation schedule). */
  readonly keyRotationDays: number;
  /** Minutes between health checks. */
  readonly healthCheckEveryMinutes: number;
  /** CloudWatch Logs retention for the Lambdas, in days (must be a value CloudWatch accepts). */
  readonly logRetentionDays: 7 | 14 | 30 | 90 | 365;
  /** Email address subscribed to the alarm topic; none when undefined. */
  readonly alarmEmail?: string;
  /** Timeout of the migrate Lambda in seconds (it checkpoints and re-invokes itself before it). */
  readonly migrateTimeoutSeconds: number;
  /** Minutes without progress while the migrate Lambda keeps running before the stall alarm fires. */
  readonly reencryptionStallMinutes: number;
  /**
   * Concurrent executions reserved for (and capping) the rotate-keys and migrate Lambdas.
   * rotate-keys: 1, rotations of one secret never overlap. migrate: 2, a job's next invocation
   * may start while the previous one returns, and a rotation's re-encryption may meet a running
   * copy; more would only multiply writes to one table. Reserving needs 10 unreserved executions
   * left in the account: a fresh account (limit 10) must raise its quota first.
   */
  readonly reservedConcurrency: { readonly rotateKeys: number; readonly migrate: number };
}

const shared = {
  app: 'cachevault',
  healthCheckEveryMinutes: 5,
  migrateTimeoutSeconds: 900,
  reencryptionStallMinutes: 30,
  reservedConcurrency: { rotateKeys: 1, migrate: 2 },
} as const;

const PARAMETERS: Readonly<Record<EnvironmentName, EnvironmentParameters>> = {
  dev: {
    ...shared,
    envName: 'dev',
    tableName: 'cachevault-dev',
    billing: { mode: 'PAY_PER_REQUEST' },
    retention: 'destroy',
    keyRotationDays: 30,
    logRetentionDays: 7,
  },
  staging: {
    ...shared,
    envName: 'staging',
    tableName: 'cachevault-staging',
    billing: { mode: 'PAY_PER_REQUEST' },
    retention: 'retain',
    keyRotationDays: 30,
    logRetentionDays: 30,
  },
  prod: {
    ...shared,
    envName: 'prod',
    tableName: 'cachevault-prod',
    billing: { mode: 'PROVISIONED', readCapacity: 50, writeCapacity: 25 },
    retention: 'retain',
    keyRotationDays: 90,
    logRetentionDays: 365,
  },
};

/** Thrown when `-c env=NAME` is missing or names no known environment. */
export class UnknownEnvironmentError extends Error {
  constructor(name: unknown) {
    const known = ENVIRONMENT_NAMES.join(', ');
    super(
      name === undefined || name === ''
        ? `No environment given. Run with -c env=NAME, where NAME is one of: ${known} (e.g. npm run synth -- -c env=dev).`
        : `Unknown environment "${String(name)}". Use -c env=NAME with one of: ${known}.`,
    );
    this.name = 'UnknownEnvironmentError';
  }
}

/** The parameters of one environment; throws UnknownEnvironmentError for anything else. */
export function parametersFor(name: unknown): EnvironmentParameters {
  if (typeof name !== 'string' || !(ENVIRONMENT_NAMES as readonly string[]).includes(name)) {
    throw new UnknownEnvironmentError(name);
  }
  return PARAMETERS[name as EnvironmentName];
}
