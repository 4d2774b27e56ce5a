/**
 * A migration in its own process, for the kill-and-resume tests. Usage (from the repository root):
 *   node --import tsx test/support/migrateWorker.ts <sourceSpec> <destinationSpec> <stateDir> <fresh|resume|rollback>
 * Specs as the CLI takes them (`file:/dir`, `dynamodb:TABLE?endpoint=...`). Copies one cache to the other, re-encrypting from the key in MIGRATE_TEST_SOURCE_KEY to the one
 * in MIGRATE_TEST_DESTINATION_KEY (hex; test keys only). Prints one JSON line per progress event
 * (`{"progress":...}`) and a final `{"report":...}` line, then exits 0. The parent SIGKILLs it at
 * random points and starts it again with `resume`.
 */
import { createBackend } from '../../client/backends/backendFactory';
import type { CacheBackend } from '../../client/backends/cacheBackend';
import { AdvancedCacheConfig } from '../../client/config/schema';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import { describeSpec, parseBackendSpec } from '../../client/migrate/backendSpec';
import { CacheMigrator } from '../../client/migrate/cacheMigrator';

/** Opens the one backend a spec names, exactly as configured by it (no fallback). */
export async function openSpec(spec: string): Promise<CacheBackend> {
  const config = AdvancedCacheConfig.parse(parseBackendSpec(spec).config);
  return (await createBackend({ ...config, file: { ...config.file, busyTimeoutMs: 30_000 } })).backend;
}

export const WORKER_BATCH_SIZE = 25;

export function workerEncryption(variable: 'MIGRATE_TEST_SOURCE_KEY' | 'MIGRATE_TEST_DESTINATION_KEY', id: string): AeadEncryption {
  const hex = process.env[variable];
  if (!hex) throw new Error(`${variable} is not set`);
  return new AeadEncryption({ keys: new StaticKeySource([{ id, material: Buffer.from(hex, 'hex') }]) });
}

async function main(): Promise<void> {
  const [sourceSpec, destinationSpec, stateDir, mode] = process.argv.slice(2);
  if (!sourceSpec || !destinationSpec || !stateDir || !['fresh', 'resume', 'rollback'].includes(mode ?? '')) {
    throw new Error('usage: migrateWorker.ts <sourceSpec> <destinationSpec> <stateDir> <fresh|resume|rollback>');
  }
  const source = await openSpec(sourceSpec);
  const destination = await openSpec(destinationSpec);
  try {
    const migrator = new CacheMigrator({
      source,
      destination,
      transcode: { open: workerEncryption('MIGRATE_TEST_SOURCE_KEY', 'src1'), seal: workerEncryption('MIGRATE_TEST_DESTINATION_KEY', 'dst1') },
      stateDir,
      batchSize: WORKER_BATCH_SIZE,
      sourceDescription: describeSpec(sourceSpec),
      destinationDescription: describeSpec(destinationSpec),
    });
    const report =
      mode === 'rollback'
        ? await migrator.rollback()
        : await migrator.run({
            resume: mode === 'resume',
            onProgress: (p) => process.stdout.write(`${JSON.stringify({ progress: p.entriesDone })}\n`),
          });
    process.stdout.write(`${JSON.stringify({ report })}\n`);
  } finally {
    await source.close();
    await destination.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
