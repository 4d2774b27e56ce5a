import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../client/backends/fileBackend';
import { runBackendContract } from '../contract/backendContract';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

runBackendContract('file', ({ clock }) => {
  const dir = mkdtempSync(join(tmpdir(), 'cachevault-file-contract-'));
  dirs.push(dir);
  return new FileBackend({ dir, clock });
});
