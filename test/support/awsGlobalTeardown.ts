import { MOTO_SERVER_PID } from './awsGlobalSetup';
import dynamoGlobalTeardown from './globalTeardown';
import { stopMotoServerByPid } from './motoServer';

/** Stops what awsGlobalSetup started, each by its PID. */
export default async function awsGlobalTeardown(): Promise<void> {
  const pid = (globalThis as Record<symbol, unknown>)[MOTO_SERVER_PID];
  try {
    if (typeof pid === 'number') await stopMotoServerByPid(pid);
    delete (globalThis as Record<symbol, unknown>)[MOTO_SERVER_PID];
  } finally {
    await dynamoGlobalTeardown();
  }
}
