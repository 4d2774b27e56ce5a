import { startDynamoDbLocal, type DynamoDbLocalInstance } from '../../client/local/dynamoDbLocal';

let engine: DynamoDbLocalInstance | undefined;

/**
 * One DynamoDB Local (loopback) for the whole vitest run, as jest's integration setup does; the
 * test workers, forked after this runs, inherit its endpoint through the environment.
 */
export async function setup(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  if (process.env.CACHEVAULT_TEST_DYNAMODB_ENDPOINT) return;
  engine = await startDynamoDbLocal({ startTimeoutMs: 60_000 });
  process.env.CACHEVAULT_TEST_DYNAMODB_ENDPOINT = engine.endpoint;
}

export async function teardown(): Promise<void> {
  await engine?.stop();
}
