/**
 * SDK clients and names for the aws jest project's moto_server (started by awsGlobalSetup).
 * Every test file makes its own keys and secrets with random names, so files can share one server.
 */
import { randomBytes } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MOTO_CREDENTIALS, MOTO_REGION } from './motoServer';

/** The moto_server port globalSetup started. */
export function testMotoPort(): number {
  const port = Number(process.env.CACHEVAULT_TEST_MOTO_PORT);
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error('CACHEVAULT_TEST_MOTO_PORT is not set: run with `npm run test:aws` (jest --selectProjects aws) so globalSetup starts moto_server.');
  }
  return port;
}

/** `http://127.0.0.1:PORT` (moto listens on loopback only). */
export function testMotoEndpoint(): string {
  return `http://127.0.0.1:${testMotoPort()}`;
}

export interface MotoClientOptions {
  /** @default testMotoEndpoint() */
  readonly endpoint?: string;
  /** @default 1 (a dead endpoint fails fast) */
  readonly maxAttempts?: number;
  /** @default 2000 */
  readonly requestTimeoutMs?: number;
}

function clientConfig(options: MotoClientOptions) {
  const timeout = options.requestTimeoutMs ?? 2_000;
  return {
    region: MOTO_REGION,
    endpoint: options.endpoint ?? testMotoEndpoint(),
    credentials: MOTO_CREDENTIALS,
    maxAttempts: options.maxAttempts ?? 1,
    requestHandler: { requestTimeout: timeout, connectionTimeout: timeout },
  };
}

export function motoKms(options: MotoClientOptions = {}): KMSClient {
  return new KMSClient(clientConfig(options));
}

export function motoSecrets(options: MotoClientOptions = {}): SecretsManagerClient {
  return new SecretsManagerClient(clientConfig(options));
}

/** A fresh symmetric KMS key; resolves to its ARN. */
export async function createMotoKey(kms: KMSClient, description = 'cachevault test wrapping key', kind: 'encrypt' | 'hmac' = 'encrypt'): Promise<string> {
  const spec = kind === 'hmac' ? ({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' } as const) : ({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' } as const);
  const out = await kms.send(new CreateKeyCommand({ Description: description, ...spec }));
  const arn = out.KeyMetadata?.Arn;
  if (!arn) throw new Error('moto CreateKey returned no ARN');
  return arn;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/**
 * A secret as the Data stack makes it: a placeholder `{}` value until the first client writes
 * the manifest. Resolves to its ARN.
 */
export async function createManifestSecret(sm: SecretsManagerClient, name = uniqueName('cachevault/test/key-manifest')): Promise<string> {
  const out = await sm.send(new CreateSecretCommand({ Name: name, SecretString: '{}' }));
  if (!out.ARN) throw new Error('moto CreateSecret returned no ARN');
  return out.ARN;
}

/**
 * Turns rotation on without letting moto run a rotation itself. moto's RotateSecret, given a
 * Lambda ARN it cannot invoke, still records RotationEnabled and (with RotateImmediately: false)
 * stages nothing; the tests then play Secrets Manager's part and call the steps in order.
 */
export async function enableRotation(sm: SecretsManagerClient, secretId: string, lambdaArn: string): Promise<void> {
  await sm.send(
    new RotateSecretCommand({
      SecretId: secretId,
      RotationLambdaARN: lambdaArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
      RotateImmediately: false,
    }),
  );
}

/** The environment an SDK client built without explicit endpoint/credentials resolves to moto. */
export function motoSdkEnv(endpoint = testMotoEndpoint()): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    AWS_REGION: MOTO_REGION,
    AWS_DEFAULT_REGION: MOTO_REGION,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}
