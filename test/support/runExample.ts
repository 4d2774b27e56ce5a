import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');

/**
 * Runs `examples/<file>` as a reader runs it: `node examples/...` against the built package (the
 * examples import `cachevault` by name, which resolves to this package), from an empty directory,
 * on a machine with no keyring and a root key in CACHEVAULT_KEY. Returns its stdout. Needs dist/
 * (`npm test` builds first).
 */
export function runExample(file: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cv-example-'));
  try {
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
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
