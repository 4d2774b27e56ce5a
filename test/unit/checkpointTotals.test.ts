import { newCheckpoint, planHash } from '../../client/migrate/checkpoint';
import { asAnyCheckpoint, checkpointTotals } from '../../client/migrate/checkpointTotals';
import { MigrationStateError } from '../../client/migrate/errors';
import type { ReencryptCounts } from '../../client/migrate/reencrypt';

const plan = { kind: 'migrate' as const, source: 'file:a', destination: 'file:b', options: {} };

describe('checkpoint totals', () => {
  it('reads seen, written and failed from either kind of checkpoint', () => {
    const copy = newCheckpoint({ kind: 'migrate', planHash: planHash(plan), plan, totalSegments: 1, counts: { entries: 5, bytes: 10, skippedExpired: 2, failed: 1, failuresByReason: {} }, now: 0 });
    expect(checkpointTotals(asAnyCheckpoint(copy, 'test'))).toEqual({ seen: 8, written: 5, failed: 1 });
    const sweep = newCheckpoint({
      kind: 'reencrypt',
      planHash: 'h',
      plan: { ...plan, kind: 'reencrypt' },
      totalSegments: 1,
      counts: { scanned: 7, rewritten: 4, unchanged: 3, skippedExpired: 1, skippedChanged: 0, failed: 0, failuresByReason: {}, keyIdsBefore: {}, keyIdsAfter: {}, bytes: 0 } as ReencryptCounts,
      now: 0,
    });
    expect(checkpointTotals(asAnyCheckpoint(sweep, 'test'))).toEqual({ seen: 8, written: 4, failed: 0 });
    expect(checkpointTotals(undefined)).toEqual({ seen: 0, written: 0, failed: 0 });
  });

  it('refuses a checkpoint of another kind or with counts that are not numbers, naming where it came from', () => {
    expect(() => asAnyCheckpoint(JSON.parse('null') as never, 'event')).toThrow(MigrationStateError);
    expect(() => asAnyCheckpoint({ kind: 'other', counts: {} } as never, 'event')).toThrow(/event cannot be used: its kind "other"/);
    expect(() => asAnyCheckpoint({ kind: 'migrate', counts: { entries: '5' } } as never, 'event')).toThrow(/lack entries, bytes, skippedExpired, failed/);
  });
});
