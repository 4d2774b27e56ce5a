import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The Keyv examples of docs/integrations.md (examples/keyv) run as a reader runs them: `node
 * examples/keyv/...` against the built package (they import `cachevault` by name, which resolves
 * to this package), on a machine with no keyring and a root key in CACHEVAULT_KEY. Needs dist/
 * (`npm test` builds first).
 */
const root = resolve(__dirname, '../..');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function runExample(file: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cv-keyv-example-'));
  dirs.push(dir);
  return execFileSync(process.execPath, [join(root, 'examples', file)], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      XDG_CACHE_HOME: join(dir, '.cache'),
      DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent',
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
    },
  }).trim();
}

describe('the Keyv examples', () => {
  test('examples/keyv/cache-manager.mjs: cache-manager v7 wraps through cachevault, computes once and leaves no plaintext on disk', () => {
    expect(runExample('keyv/cache-manager.mjs')).toBe('computed=1 same=true total=42 plaintextOnDisk=false');
  });

  test('examples/keyv/keyv-tier.mjs: a Keyv Map store as a cachevault backend holds only sealed values', () => {
    expect(runExample('keyv/keyv-tier.mjs')).toBe('name=Ada missing=true storeEntries=1 plaintextInStore=false hits=1 misses=1');
  });
});
