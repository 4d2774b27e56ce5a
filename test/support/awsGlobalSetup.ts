import dynamoGlobalSetup from './globalSetup';
import { startMotoServer } from './motoServer';

/** Where awsGlobalTeardown finds the moto_server this setup started (jest's parent process). */
export const MOTO_SERVER_PID = Symbol.for('cachevault.test.motoServerPid');

/**
 * The aws jest project: DynamoDB Local (as the integration project) plus one moto_server on a
 * free loopback port for KMS, Secrets Manager, CloudFormation, S3, IAM, STS and Lambda. Workers
 * inherit both endpoints through the environment; each test file uses its own names in them.
 */
export default async function awsGlobalSetup(): Promise<void> {
  await dynamoGlobalSetup();
  if (process.env.CACHEVAULT_TEST_MOTO_PORT) return; // a server the caller runs already
  const moto = await startMotoServer();
  process.env.CACHEVAULT_TEST_MOTO_PORT = String(moto.port);
  (globalThis as Record<symbol, unknown>)[MOTO_SERVER_PID] = moto.pid;
}
