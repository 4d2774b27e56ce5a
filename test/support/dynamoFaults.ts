import { ProvisionedThroughputExceededException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** What a fault hook sees of one command: its name (`BatchWriteItemCommand`) and mutable input. */
export interface CommandCall {
  readonly commandName: string;
  readonly input: Record<string, unknown>;
}

/**
 * A fault hook runs before each command is sent. It may change the input, throw (an error the
 * caller sees), wait (to interleave another client's requests), or return `{ after }` to
 * post-process the service's answer.
 */
export type FaultHook = (
  call: CommandCall,
) => void | { after?: (output: Record<string, unknown>) => void } | Promise<void | { after?: (output: Record<string, unknown>) => void }>;

let counter = 0;

/**
 * Adds a hook to the client's middleware stack (initialize step: above the SDK's retries, so
 * a thrown error reaches the backend as-is). Returns a function that removes it.
 */
export function injectFaults(client: DynamoDBClient, hook: FaultHook): () => void {
  const name = `cachevault-test-faults-${++counter}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const outcome = await hook({ commandName: String(context.commandName), input });
      const result = await next(args);
      if (outcome && outcome.after) outcome.after(result.output as unknown as Record<string, unknown>);
      return result;
    },
    { step: 'initialize', name },
  );
  return () => void client.middlewareStack.remove(name);
}

/**
 * Throttles a command below the SDK's retry layer (deserialize step), so the SDK's own retry
 * strategy sees and retries it, as it would a real throttle. `times` counts throttled attempts.
 */
export function throttleBelowRetries(client: DynamoDBClient, commandName: string, times: number): { attempts: () => number; remove: () => void } {
  const name = `cachevault-test-throttle-${++counter}`;
  let attempts = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === commandName && attempts < times) {
        attempts += 1;
        throw new ProvisionedThroughputExceededException({
          message: 'The level of configured provisioned throughput for the table was exceeded (injected by test).',
          $metadata: { httpStatusCode: 400 },
        });
      }
      return next(args);
    },
    { step: 'deserialize', name },
  );
  return { attempts: () => attempts, remove: () => void client.middlewareStack.remove(name) };
}
