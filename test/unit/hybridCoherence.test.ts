import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import type { BackendCapabilities, StoredEntry } from '../../client/types';
import { MemoryLog } from '../support/memoryInvalidationLog';

/** An in-process stand-in for the shared tier: one instance behind several hybrids, as the table is. */
class SharedMemoryBackend extends MemoryBackend {
  override readonly capabilities: BackendCapabilities = { scanSegments: 1, maxBatchWrite: Infinity, persistent: true, shared: true };
}

const CAP = 60_000;
// Timers poll on real time: a long window keeps them out of the way; syncCoherence() drives the log.
const WINDOW = 60_000;

describe('HybridBackend with coherence (instances sharing one tier and one invalidation log)', () => {
  let now: number;
  const clock = () => now;
  let shared: SharedMemoryBackend;
  let log: MemoryLog;
  const open: HybridBackend[] = [];

  const entry = (key: string, text: string, localOnly = false): StoredEntry => ({
    namespace: 'ns',
    key,
    value: Buffer.from(text),
    keyId: localOnly ? 'local' : 'k1',
    createdAt: now,
    expiresAt: now + 3_600_000,
  });
  const text = (e: StoredEntry | undefined) => (e === undefined ? undefined : Buffer.from(e.value).toString());

  function instance(): { hybrid: HybridBackend; memory: MemoryBackend } {
    const memory = new MemoryBackend({ clock });
    const hybrid = new HybridBackend({
      clock,
      localTtlCapMs: CAP,
      isLocalOnly: (e) => e.keyId === 'local',
      tiers: [
        { name: 'memory', backend: memory },
        { name: 'shared', backend: shared },
      ],
      coherence: { store: log, windowMs: WINDOW, retentionMs: 4 * WINDOW },
    });
    open.push(hybrid);
    return { hybrid, memory };
  }

  beforeEach(() => {
    now = Date.now();
    shared = new SharedMemoryBackend({ clock });
    log = new MemoryLog(2);
  });
  afterEach(async () => {
    for (const h of open.splice(0)) await h.close();
  });

  test('an overwrite through one instance removes the copy the other holds, and its next read is the new value', async () => {
    const a = instance();
    const b = instance();
    await a.hybrid.set(entry('k', 'v1'));
    expect(text(await b.hybrid.get('ns', 'k'))).toBe('v1');
    expect(await b.memory.get('ns', 'k')).toBeDefined();

    await a.hybrid.set(entry('k', 'v2'));
    // Without the log, b would serve v1 from memory for the whole cap.
    expect(text(await b.memory.get('ns', 'k'))).toBe('v1');
    await a.hybrid.syncCoherence();
    now += 10;
    await b.hybrid.syncCoherence();
    expect(await b.memory.get('ns', 'k')).toBeUndefined();
    expect(text(await b.hybrid.get('ns', 'k'))).toBe('v2');
  });

  test('a copy the other instance did not know of is re-checked instead of served', async () => {
    const a = instance();
    const b = instance();
    await a.hybrid.set(entry('k', 'v1'));
    // A copy b's hybrid never saw being made (as after a restart, or from another process's file tier).
    await b.memory.set(entry('k', 'v1'));
    await b.hybrid.syncCoherence();
    now += 10;
    await a.hybrid.set(entry('k', 'v2'));
    await a.hybrid.syncCoherence();
    now += 10;
    await b.hybrid.syncCoherence();
    expect(text(await b.hybrid.get('ns', 'k'))).toBe('v2');
  });

  test('a clear through one instance empties the namespace in the other\'s local tiers', async () => {
    const a = instance();
    const b = instance();
    await a.hybrid.set(entry('x', '1'));
    await a.hybrid.set(entry('y', '2'));
    expect(text(await b.hybrid.get('ns', 'x'))).toBe('1');
    expect(text(await b.hybrid.get('ns', 'y'))).toBe('2');
    await a.hybrid.clear('ns');
    await a.hybrid.syncCoherence();
    now += 10;
    await b.hybrid.syncCoherence();
    expect(await b.memory.get('ns', 'x')).toBeUndefined();
    expect(await b.hybrid.get('ns', 'y')).toBeUndefined();
  });

  test('after the log was unreadable for longer than its retention, shared copies are dropped and local-only entries stay', async () => {
    const b = instance();
    await b.hybrid.syncCoherence();
    await b.hybrid.set(entry('shared-key', 's'));
    await b.hybrid.set(entry('mine', 'm', true));
    log.down = true;
    now += 10;
    await b.hybrid.syncCoherence();
    expect(b.hybrid.stats().extra).toMatchObject({ coherence: 'degraded' });
    expect((await b.hybrid.healthCheck()).checks.find((c) => c.name === 'coherence')).toMatchObject({ ok: false });
    // Partitioned: the local copy still serves, by the cap.
    expect(text(await b.hybrid.get('ns', 'shared-key'))).toBe('s');

    now += 5 * WINDOW;
    log.down = false;
    await b.hybrid.syncCoherence();
    expect(b.hybrid.stats().extra).toMatchObject({ coherence: 'ok', coherenceResets: 1, coherenceDropped: 1 });
    expect(await b.memory.get('ns', 'shared-key')).toBeUndefined();
    expect(text(await b.memory.get('ns', 'mine'))).toBe('m');
  });

  test('an instance does not drop its own writes when its records come back', async () => {
    const a = instance();
    await a.hybrid.set(entry('k', 'mine'));
    await a.hybrid.syncCoherence();
    now += 10;
    await a.hybrid.syncCoherence();
    expect(text(await a.memory.get('ns', 'k'))).toBe('mine');
    expect(a.hybrid.stats().extra).toMatchObject({ coherencePublished: 1, coherenceApplied: 0 });
  });
});
