import type { Context } from 'aws-lambda';
import { InvalidEventError } from '../../../lambda/errors';
import { parseJob } from '../../../lambda/migrateJob';
import { WindDown } from '../../../lambda/windDown';

describe('migrate job events', () => {
  it('fills in the documented defaults for a bare re-encryption job', () => {
    expect(parseJob({ kind: 'reencrypt' })).toEqual({
      kind: 'reencrypt',
      includeUnencrypted: false,
      reason: 'reencrypt',
      retireOldVersions: true,
      options: { windDownMs: 30_000, continueWith: 'self', maxInvocations: 1000 },
    });
  });

  it('accepts a copy between two DynamoDB tables and refuses caches that do not outlive an invocation', () => {
    expect(parseJob({ kind: 'copy', source: 'dynamodb:cache-a?region=eu-west-1', destination: 'dynamodb:cache-b' }).kind).toBe('copy');
    expect(() => parseJob({ kind: 'copy', source: 'file:./cache', destination: 'memory:' })).toThrow(
      /source: must be a dynamodb:TABLE spec.*destination: must be a dynamodb:TABLE spec/,
    );
  });

  it('names every bad field and refuses unknown ones', () => {
    const attempt = () => parseJob({ kind: 'reencrypt', fromKeyIds: ['k 1'], options: { windDownMs: 10, speed: 'max' } });
    expect(attempt).toThrow(InvalidEventError);
    expect(attempt).toThrow(/fromKeyIds\.0: .*options\.windDownMs: .*options: Unrecognized key: "speed"/s);
  });

  it('refuses a continuation that is not one the handler wrote', () => {
    expect(() => parseJob({ kind: 'reencrypt', continuation: { jobId: 'job-1', invocation: 2, checkpoint: '{}' } })).toThrow(/continuation\.jobId/);
    expect(() => parseJob({ kind: 'reencrypt', continuation: { jobId: '0f8fad5b-d9cb-469f-a165-70867728950e', invocation: 1, checkpoint: '{}' } })).toThrow(
      /continuation\.invocation/,
    );
  });
});

describe('WindDown', () => {
  const context = (remaining: () => number) => ({ getRemainingTimeInMillis: remaining }) as unknown as Context;
  afterEach(() => jest.useRealTimers());

  it('aborts at the first batch that ends with less than the wind-down left of the invocation', () => {
    let remaining = 100_000;
    const windDown = new WindDown(context(() => remaining), 30_000, new AbortController().signal);
    windDown.check();
    expect(windDown.signal.aborted).toBe(false);
    remaining = 29_999;
    windDown.check();
    expect(windDown.signal.aborted).toBe(true);
    windDown.dispose();
  });

  it('aborts on its own when a batch runs into the wind-down, and not after dispose', () => {
    jest.useFakeTimers();
    const running = new WindDown(context(() => 100_000), 30_000, new AbortController().signal);
    jest.advanceTimersByTime(69_999);
    expect(running.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    expect(running.signal.aborted).toBe(true);

    const disposed = new WindDown(context(() => 100_000), 30_000, new AbortController().signal);
    disposed.dispose();
    jest.advanceTimersByTime(100_000);
    expect(disposed.signal.aborted).toBe(false);
  });

  it("aborts when the handler's hard-stop signal does", () => {
    const hardStop = new AbortController();
    const windDown = new WindDown(context(() => 800_000), 30_000, hardStop.signal);
    hardStop.abort();
    expect(windDown.signal.aborted).toBe(true);
    windDown.dispose();
    expect(new WindDown(context(() => 800_000), 30_000, AbortSignal.abort()).signal.aborted).toBe(true);
  });
});

describe('migrate job wind-down', () => {
  it('refuses a windDownMs that would fire together with the handler\'s 5 s hard stop', () => {
    expect(() => parseJob({ kind: 'reencrypt', options: { windDownMs: 5_000 } })).toThrow(/windDownMs/);
    expect(parseJob({ kind: 'reencrypt', options: { windDownMs: 6_000 } }).options.windDownMs).toBe(6_000);
  });
});
