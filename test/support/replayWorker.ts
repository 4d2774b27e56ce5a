/**
 * A process that writes through a hybrid (memory, file, DynamoDB) while DynamoDB is unreachable,
 * then dies without closing anything. Usage (from the repository root):
 *   node --import tsx test/support/replayWorker.ts <dir> <tableName> <script> [maxPendingReplays]
 * The table client points at a port nothing listens on. `script` names what to write (below).
 * Prints one JSON line with the hybrid's stats, then SIGKILLs itself: no close, no flush.
 */
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';
import type { StoredEntry } from '../../client/types';

/** Bytes standing in for a sealed envelope: the hybrid sits below encryption and never looks inside. */
export function opaque(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(`sealed:${text}`));
}

export function entry(namespace: string, key: string, text: string): StoredEntry {
  return { namespace, key, value: opaque(text), keyId: 'k1', createdAt: 1_000, expiresAt: Date.now() + 3_600_000 };
}

async function main(): Promise<void> {
  const [dir, tableName, script, maxArg] = process.argv.slice(2);
  if (!dir || !tableName || !script) throw new Error('usage: replayWorker.ts <dir> <tableName> <script> [maxPendingReplays]');
  // Port 9 (discard) on loopback: nothing listens, so every call is refused at once.
  const client = createDynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1, requestTimeoutMs: 500 });
  const hybrid = new HybridBackend({
    maxPendingReplays: maxArg === undefined ? undefined : Number(maxArg),
    tiers: [
      { name: 'memory', backend: new MemoryBackend({}) },
      { name: 'file', backend: new FileBackend({ dir }) },
      { name: 'dynamodb', backend: new DynamoDBBackend({ tableName, client }) },
    ],
  });
  if (script === 'mixed') {
    await hybrid.set(entry('app', 'a', 'a-first'));
    await hybrid.set(entry('app', 'a', 'a-newest'));
    await hybrid.set(entry('app', 'b', 'b-only'));
    await hybrid.delete('app', 'c');
    await hybrid.set(entry('gone', 'z', 'z-before-clear'));
    await hybrid.clear('gone');
    await hybrid.set(entry('gone', 'y', 'y-after-clear'));
  } else if (script === 'bound') {
    for (let i = 0; i < 5; i++) await hybrid.set(entry('bound', `k${i}`, `v${i}`));
  } else {
    throw new Error(`unknown script ${script}`);
  }
  process.stdout.write(`${JSON.stringify(hybrid.stats().extra)}\n`);
  process.kill(process.pid, 'SIGKILL');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
