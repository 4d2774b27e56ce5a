import type { LambdaClient } from '@aws-sdk/client-lambda';
import { JobInvokeError } from './errors';
import type { MigrateJobInput } from './migrateJob';

let client: LambdaClient | undefined;

/**
 * Starts a migrate job asynchronously (InvocationType `Event`): the caller does not wait for it.
 * The Lambda SDK is loaded on first use: most invocations never continue a job, and loading it
 * costs cold-start time.
 */
export async function startMigrateJob(functionName: string, job: MigrateJobInput): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { InvokeCommand, LambdaClient } = require('@aws-sdk/client-lambda') as typeof import('@aws-sdk/client-lambda');
  client ??= new LambdaClient({});
  let status: number | undefined;
  try {
    const out = await client.send(
      new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(job)) }),
    );
    status = out.StatusCode;
  } catch (error) {
    throw new JobInvokeError(functionName, { cause: error, context: { reason: (error as { name?: string }).name } });
  }
  if (status !== 202) throw new JobInvokeError(functionName, { context: { statusCode: status } });
}
