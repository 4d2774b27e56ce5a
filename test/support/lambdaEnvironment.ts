/**
 * The configuration the CDK stack hands the cachevault Lambdas, for the handler tests: one place,
 * so the health, migrate and rotate-keys tests run the handlers under the same settings.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKms, FakeSecretsManager } from './awsFakes';
import type { DynamoTestTable } from './dynamoTestTable';

/** The KMS key the Lambda configuration names (FakeKms accepts any id). */
export const TEST_KMS_KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/**
 * The stack's settings as environment variables: the DynamoDB backend, data keys wrapped by KMS
 * only (no local copy), the key manifest in the Secrets Manager secret `secretId`, no audit file.
 */
export function lambdaKeysEnv(secretId: string): Record<string, string> {
  return {
    CACHEVAULT_BACKEND: 'dynamodb',
    CACHEVAULT_DYNAMODB_REGION: 'us-east-1',
    CACHEVAULT_KEYS_PROVIDERS: 'kms',
    CACHEVAULT_KEYS_APP: 'cachevault',
    CACHEVAULT_KEYS_ENVIRONMENT: 'dev',
    CACHEVAULT_KEYS_MANIFEST_STORE: 'secretsmanager',
    CACHEVAULT_KEYS_MANIFEST_SECRET_ID: secretId,
    CACHEVAULT_KEYS_KMS_KEY_ID: TEST_KMS_KEY_ARN,
    CACHEVAULT_KEYS_WRAP_LOCALLY: 'false',
    CACHEVAULT_AUDIT_ENABLED: 'false',
  };
}

export interface LambdaEnvironment {
  readonly kms: FakeKms;
  readonly secrets: FakeSecretsManager;
  /** A scratch directory named as the file tier's (unused by the DynamoDB backend, but configured). */
  readonly fileDir: string;
}

export interface LambdaEnvironmentOptions {
  readonly secretId: string;
  /** Prefix of the scratch directory's name. */
  readonly tmpPrefix: string;
  /** Runs last in beforeAll, with the environment and fakes in place (what an app did before the handler runs). */
  readonly seed?: () => Promise<void>;
}

/**
 * Integration tests: in beforeAll, points the Lambda configuration at `table` on DynamoDB Local
 * and installs the KMS and Secrets Manager fakes; afterAll removes the fakes, restores
 * `process.env` as it was and deletes the scratch directory. Read the fields inside tests/hooks.
 */
export function useLambdaEnvironment(table: DynamoTestTable, options: LambdaEnvironmentOptions): LambdaEnvironment {
  const saved = { ...process.env };
  const state: { env?: LambdaEnvironment } = {};
  beforeAll(async () => {
    const fileDir = mkdtempSync(join(tmpdir(), options.tmpPrefix));
    Object.assign(process.env, {
      ...lambdaKeysEnv(options.secretId),
      CACHEVAULT_DYNAMODB_TABLE_NAME: table.tableName,
      CACHEVAULT_DYNAMODB_ENDPOINT: table.endpoint,
      CACHEVAULT_FILE_DIR: fileDir,
      CACHEVAULT_LOGGING_LEVEL: 'silent',
    });
    state.env = { kms: new FakeKms(), secrets: new FakeSecretsManager(options.secretId), fileDir };
    await options.seed?.();
  });
  afterAll(() => {
    state.env?.kms.restore();
    state.env?.secrets.restore();
    process.env = saved;
    if (state.env) rmSync(state.env.fileDir, { recursive: true, force: true });
  });
  const get = (): LambdaEnvironment => {
    if (!state.env) throw new Error('useLambdaEnvironment(): the fakes are installed in beforeAll; use them inside tests or hooks.');
    return state.env;
  };
  return {
    get kms() {
      return get().kms;
    },
    get secrets() {
      return get().secrets;
    },
    get fileDir() {
      return get().fileDir;
    },
  };
}
