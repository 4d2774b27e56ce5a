import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Static AWS credentials (the SDK's AwsCredentialIdentity shape). */
export interface StaticCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface DynamoDBClientOptions {
  /**
   * AWS region of the table. Unset: the SDK resolves it (AWS_REGION, the profile, instance
   * metadata); for a loopback endpoint, which ignores it, a placeholder.
   */
  readonly region?: string;
  /** Endpoint override, e.g. `http://127.0.0.1:8000` for DynamoDB Local; omit on AWS. */
  readonly endpoint?: string;
  /** Time allowed for one HTTP request, after which it fails (and is retried). @default 3000 */
  readonly requestTimeoutMs?: number;
  /** SDK attempts per call for throttling and transient errors. @default 5 */
  readonly maxAttempts?: number;
  /**
   * Explicit credentials. Default: the SDK's provider chain; for a loopback endpoint with no
   * credentials configured in the environment, fixed placeholder credentials (a local engine
   * does not check them, and the SDK refuses to sign without some).
   */
  readonly credentials?: StaticCredentials;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * Builds the one DynamoDB client configuration cachevault uses: bounded request and connect
 * timeouts (a hung shared tier must not hang the app), the SDK's standard retry with a
 * configurable attempt count, keep-alive connections (the SDK default).
 */
export function createDynamoDBClient(options: DynamoDBClientOptions): DynamoDBClient {
  const requestTimeoutMs = options.requestTimeoutMs ?? 3_000;
  return new DynamoDBClient({
    region: options.region ?? (isLoopback(options.endpoint) ? 'us-east-1' : undefined),
    endpoint: options.endpoint,
    maxAttempts: options.maxAttempts ?? 5,
    credentials: options.credentials ?? placeholderCredentialsFor(options.endpoint),
    requestHandler: {
      requestTimeout: requestTimeoutMs,
      throwOnRequestTimeout: true,
      connectionTimeout: Math.min(requestTimeoutMs, 1_000),
    },
  });
}

function placeholderCredentialsFor(endpoint: string | undefined): StaticCredentials | undefined {
  if (process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE) return undefined;
  return isLoopback(endpoint) ? { accessKeyId: 'local', secretAccessKey: 'local' } : undefined;
}

function isLoopback(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  try {
    return LOOPBACK_HOSTS.has(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}
