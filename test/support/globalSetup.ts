import { startDynamoDbLocal } from '../../client/local/dynamoDbLocal';

/** Where globalTeardown finds what globalSetup started (both run in jest's parent process). */
export const DYNAMODB_LOCAL_PID = Symbol.for('cachevault.test.dynamoDbLocalPid');

/**
 * Starts one DynamoDB Local for the whole integration run. Workers inherit the endpoint through
 * the environment; each test file then creates its own uniquely named table.
 */
export default async function globalSetup(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  if (process.env.CACHEVAULT_TEST_DYNAMODB_ENDPOINT) return; // an engine the caller runs already
  const engine = await startDynamoDbLocal({ startTimeoutMs: 60_000 });
  process.env.CACHEVAULT_TEST_DYNAMODB_ENDPOINT = engine.endpoint;
  (globalThis as Record<symbol, unknown>)[DYNAMODB_LOCAL_PID] = engine.pid;
}
