/**
 * A migration in its own process, for the kill-and-resume tests. Usage (from the repository root):
 *   node --import tsx test/support/migrateWorker.ts <sourceDir> <destinationDir> <stateDir> <fresh|resume|rollback>
 * Copies a file cache to another, re-encrypting from the key in MIGRATE_TEST_SOURCE_KEY to the one
 * in MIGRATE_TEST_DESTINATION_KEY (hex; test keys only). Prints one JSON line per progress event
 * (`{"progress":...}`) and a final `{"report":...}` line, then exits 0. The parent SIGKILLs it at
 * random points and starts it again with `resume`.
 */
import { FileBackend } from '../../client/backends/fileBackend';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import { CacheMigrator } from '../../client/migrate/cacheMigrator';

export const WORKER_BATCH_SIZE = 25;

export function workerEncryption(variable: 'MIGRATE_TEST_SOURCE_KEY' | 'MIGRATE_TEST_DESTINATION_KEY', id: string): AeadEncryption {
  const hex = process.env[variable];
  if (!hex) throw new Error(`${variable} is not set`);
  return new AeadEncryption({ keys: new StaticKeySource([{ id, material: Buffer.from(hex, 'hex') }]) });
}

async function main(): Promise<void> {
  const [sourceDir, destinationDir, stateDir, mode] = process.argv.slice(2);
  if (!sourceDir || !destinationDir || !stateDir || !['fresh', 'resume', 'rollback'].includes(mode ?? '')) {
    throw new Error('usage: migrateWorker.ts <sourceDir> <destinationDir> <stateDir> <fresh|resume|rollback>');
  }
  const source = new FileBackend({ dir: sourceDir, busyTimeoutMs: 30_000 });
  const destination = new FileBackend({ dir: destinationDir, busyTimeoutMs: 30_000 });
  try {
    const migrator = new CacheMigrator({
      source,
      destination,
      transcode: { open: workerEncryption('MIGRATE_TEST_SOURCE_KEY', 'src1'), seal: workerEncryption('MIGRATE_TEST_DESTINATION_KEY', 'dst1') },
      stateDir,
      batchSize: WORKER_BATCH_SIZE,
      sourceDescription: `file:${sourceDir}`,
      destinationDescription: `file:${destinationDir}`,
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

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
