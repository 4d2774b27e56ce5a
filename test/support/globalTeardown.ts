import { stopDynamoDbLocalByPid } from '../../client/local/dynamoDbLocal';
import { DYNAMODB_LOCAL_PID } from './globalSetup';

/** Stops the DynamoDB Local that globalSetup started, by its PID. */
export default async function globalTeardown(): Promise<void> {
  const pid = (globalThis as Record<symbol, unknown>)[DYNAMODB_LOCAL_PID];
  if (typeof pid !== 'number') return;
  await stopDynamoDbLocalByPid(pid);
  delete (globalThis as Record<symbol, unknown>)[DYNAMODB_LOCAL_PID];
}
