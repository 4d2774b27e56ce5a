/**
 * Migration throughput: a file cache of 1 KB entries copied to DynamoDB Local by CacheMigrator
 * (streamed pages, journaled, BatchWriteItem through the DynamoDB backend, checkpoint after each
 * batch) beside the naive copy an app would write first (`for await (e of file.entries())
 * await dynamo.set(e)`, one PutItem each), in the same run against the same engine. The naive
 * copy runs on a slice of the entries (it is slow); its rate is what is compared.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { FileBackend } from '../../client/backends/fileBackend';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';
import { TableManager } from '../../client/dynamodb/tableManager';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '../../client/local/dynamoDbLocal';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import { CacheMigrator } from '../../client/migrate/cacheMigrator';
import type { StoredEntry } from '../../client/types';
import { ratio, type BenchContext, type BenchSuite, type CaseResult, type SuiteResult } from '../harness';

const VALUE_BYTES = 1024;

async function run(ctx: BenchContext): Promise<SuiteResult> {
  const entries = ctx.quick ? 1_000 : 10_000;
  const naiveEntries = ctx.quick ? 200 : 2_000;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const dir = mkdtempSync(join(tmpdir(), 'cv-bench-migrate-'));
  ctx.progress('migrate: starting DynamoDB Local');
  const engine = await startDynamoDbLocal({ startTimeoutMs: 60_000 });
  const client = createDynamoDBClient({ region: 'us-east-1', endpoint: engine.endpoint, credentials: LOCAL_CREDENTIALS, requestTimeoutMs: 30_000 });
  const source = new FileBackend({ dir: join(dir, 'source') });
  const oldKeys = new AeadEncryption({ keys: new StaticKeySource([{ id: 'old', material: randomBytes(32) }]) });
  const newKeys = new AeadEncryption({ keys: new StaticKeySource([{ id: 'new', material: randomBytes(32) }]) });
  const backends: DynamoDBBackend[] = [];
  const table = async (name: string): Promise<DynamoDBBackend> => {
    await new TableManager({ client, tableName: name }).create();
    const backend = new DynamoDBBackend({ tableName: name, client });
    backends.push(backend);
    return backend;
  };

  try {
    ctx.progress(`migrate: writing ${entries} sealed 1 KB entries to the file cache`);
    const now = Date.now();
    const batch: StoredEntry[] = [];
    for (let i = 0; i < entries; i++) {
      const identity = { namespace: 'bench', key: `entry-${i}`, expiresAt: now + 86_400_000 };
      const sealed = await oldKeys.seal(randomBytes(VALUE_BYTES), identity);
      batch.push({ ...identity, value: sealed.bytes, keyId: sealed.keyId, createdAt: now });
    }
    await source.setMany(batch);

    const cases: CaseResult[] = [];

    // Warm both paths before anything is timed. The JVM behind DynamoDB Local, not Node, is the
    // bottleneck here (Node used ~20% of a core), and a cold engine is several times slower than a
    // warm one: the first copy of 10,000 entries ran at ~400 entries/s, the fourth at ~2,400/s.
    ctx.progress('migrate: warm-up (DynamoDB Local JIT)');
    const warm = await table('bench-warmup');
    let warmed = 0;
    for await (const entry of source.entries({ pageSize: 100 })) {
      await warm.set(entry);
      if (++warmed === naiveEntries / 4) break;
    }
    for (let round = 0; round < 2; round++) {
      await new CacheMigrator({ source, destination: warm, stateDir: join(dir, `state-warmup-${round}`) }).run();
    }

    ctx.progress(`migrate: naive copy, one PutItem per entry (${naiveEntries} entries)`);
    const naiveTarget = await table('bench-naive');
    let copied = 0;
    let started = performance.now();
    for await (const entry of source.entries({ pageSize: 500 })) {
      await naiveTarget.set(entry);
      if (++copied === naiveEntries) break;
    }
    let seconds = (performance.now() - started) / 1000;
    cases.push({ name: 'naive PutItem copy', ops: copied, seconds, opsPerSec: copied / seconds });

    ctx.progress(`migrate: CacheMigrator (${entries} entries)`);
    const migrated = await table('bench-migrator');
    started = performance.now();
    const report = await new CacheMigrator({ source, destination: migrated, stateDir: join(dir, 'state-copy') }).run();
    seconds = (performance.now() - started) / 1000;
    cases.push({ name: 'CacheMigrator', ops: report.counts.entries, seconds, opsPerSec: report.counts.entries / seconds, extra: { MBps: report.counts.bytes / seconds / 1e6 } });

    ctx.progress(`migrate: CacheMigrator into a table that already holds entries (${entries} entries)`);
    const occupied = await table('bench-occupied');
    await occupied.set({ namespace: 'other', key: 'already-here', value: randomBytes(VALUE_BYTES), expiresAt: null, keyId: 'none', createdAt: now });
    started = performance.now();
    const third = await new CacheMigrator({ source, destination: occupied, stateDir: join(dir, 'state-occupied') }).run();
    seconds = (performance.now() - started) / 1000;
    cases.push({ name: 'CacheMigrator, destination not empty', ops: third.counts.entries, seconds, opsPerSec: third.counts.entries / seconds });

    ctx.progress(`migrate: CacheMigrator re-encrypting to a new key (${entries} entries)`);
    const reencrypted = await table('bench-reencrypt');
    started = performance.now();
    const second = await new CacheMigrator({ source, destination: reencrypted, transcode: { open: oldKeys, seal: newKeys }, stateDir: join(dir, 'state-transcode') }).run();
    seconds = (performance.now() - started) / 1000;
    cases.push({ name: 'CacheMigrator re-encrypting', ops: second.counts.entries, seconds, opsPerSec: second.counts.entries / seconds });

    for (const r of [report, second, third]) {
      if (r.counts.entries !== entries) throw new Error(`bench: the migrator copied ${r.counts.entries} of ${entries} entries`);
    }
    return {
      suite: 'migrate',
      cases,
      ratios: [
        ratio(cases, 'CacheMigrator', 'naive PutItem copy', 5),
        ratio(cases, 'CacheMigrator, destination not empty', 'naive PutItem copy'),
        ratio(cases, 'CacheMigrator re-encrypting', 'naive PutItem copy'),
      ],
      notes: [
        `file cache -> DynamoDB Local (${engine.endpoint}), ${VALUE_BYTES} B values sealed with AES-256-GCM; the migrator journals, batches and checkpoints as in production`,
        'into an empty table the journal records keys as absent without reading; "destination not empty" adds the BatchGetItem read of each batch',
        `the naive copy runs on the first ${naiveEntries} entries; rates are compared`,
      ],
    };
  } finally {
    for (const b of backends) await b.close();
    await source.close();
    client.destroy();
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const suite: BenchSuite = { name: 'migrate', description: 'file -> DynamoDB Local: CacheMigrator vs one PutItem at a time', run };
export default suite;
