import { sendUntilProcessed } from '../../client/dynamodb/batchRetry';
import {
  DynamoDBAccessDeniedError,
  DynamoDBError,
  DynamoDBThrottledError,
  TableNotFoundError,
  translateDynamoError,
} from '../../client/dynamodb/errors';
import { runConcurrently, split } from '../../client/dynamodb/tableRequests';

const awsError = (name: string, message = name) => Object.assign(new Error(message), { name });

describe('sendUntilProcessed()', () => {
  test('resends only what came back unprocessed until nothing is left', async () => {
    const sent: number[][] = [];
    const result = await sendUntilProcessed(
      [1, 2, 3, 4],
      async (pending) => {
        sent.push([...pending]);
        return pending.slice(1);
      },
      { deadlineMs: 10_000, startingDelayMs: 1, maxDelayMs: 2 },
    );
    expect(result).toBeUndefined();
    expect(sent).toEqual([[1, 2, 3, 4], [2, 3, 4], [3, 4], [4]]);
  });

  test('gives back what is still pending at the deadline instead of dropping it', async () => {
    const result = await sendUntilProcessed([1, 2, 3], async (pending) => (pending.length > 2 ? pending.slice(1) : pending), { deadlineMs: 30, startingDelayMs: 1, maxDelayMs: 5 });
    expect(result?.pending).toEqual([2, 3]);
  });

  test('retries a throttled request and reports throttling as the last error when it never clears', async () => {
    let calls = 0;
    const result = await sendUntilProcessed(
      ['a'],
      async () => {
        calls += 1;
        throw awsError('ProvisionedThroughputExceededException');
      },
      { deadlineMs: 30, startingDelayMs: 1, maxDelayMs: 5 },
    );
    expect(calls).toBeGreaterThan(1);
    expect(result?.pending).toEqual(['a']);
    expect((result?.lastError as Error).name).toBe('ProvisionedThroughputExceededException');
  });

  test('does not retry errors that are not throttling', async () => {
    let calls = 0;
    const boom = awsError('ValidationException');
    await expect(
      sendUntilProcessed(['a'], async () => {
        calls += 1;
        throw boom;
      }, { deadlineMs: 1_000, startingDelayMs: 1 }),
    ).rejects.toBe(boom);
    expect(calls).toBe(1);
  });
});

describe('translateDynamoError()', () => {
  const ctx = { tableName: 'cache', action: 'GetItem', consumedCapacity: 12.5 };

  test('ResourceNotFound becomes TableNotFoundError naming the table and how to create it', () => {
    const err = translateDynamoError(awsError('ResourceNotFoundException'), ctx);
    expect(err).toBeInstanceOf(TableNotFoundError);
    expect(err.message).toContain('"cache"');
  });

  test('AccessDenied names the action from the AWS message, else the attempted one', () => {
    const fromMessage = translateDynamoError(awsError('AccessDeniedException', 'is not authorized to perform: dynamodb:BatchWriteItem on resource'), ctx);
    expect((fromMessage as DynamoDBAccessDeniedError).action).toBe('BatchWriteItem');
    expect((translateDynamoError(awsError('AccessDeniedException', 'denied'), ctx) as DynamoDBAccessDeniedError).action).toBe('GetItem');
  });

  test('throttling carries the consumed capacity', () => {
    const err = translateDynamoError(awsError('ThrottlingException'), ctx) as DynamoDBThrottledError;
    expect(err).toBeInstanceOf(DynamoDBThrottledError);
    expect(err.consumedCapacity).toBe(12.5);
    expect(err.message).toContain('12.5 capacity units');
  });

  test('unknown errors keep the original as cause; our own errors pass through', () => {
    const original = awsError('SomethingElse');
    const err = translateDynamoError(original, ctx);
    expect(err).toBeInstanceOf(DynamoDBError);
    expect(err.cause).toBe(original);
    const ours = new TableNotFoundError('t');
    expect(translateDynamoError(ours, ctx)).toBe(ours);
  });
});

describe('batch helpers', () => {
  test('split() cuts to DynamoDB batch sizes', () => {
    expect(split(Array.from({ length: 51 }, (_, i) => i), 25).map((g) => g.length)).toEqual([25, 25, 1]);
  });

  test('runConcurrently() keeps order, bounds concurrency and surfaces the first failure', async () => {
    let active = 0;
    let peak = 0;
    const out = await runConcurrently([1, 2, 3, 4, 5, 6], 2, async (n) => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((r) => setImmediate(r));
      active -= 1;
      return n * 10;
    });
    expect(out).toEqual([10, 20, 30, 40, 50, 60]);
    expect(peak).toBe(2);
    await expect(runConcurrently([1, 2], 2, async (n) => {
      if (n === 2) throw new Error('second failed');
      return n;
    })).rejects.toThrow('second failed');
  });
});
