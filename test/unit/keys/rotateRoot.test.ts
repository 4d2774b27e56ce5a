import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIo } from '../../../client/cli/index';
import { rootKeyFingerprint } from '../../../client/keys/rootKey';

function io(env: NodeJS.ProcessEnv, cwd: string): CliIo & { out: string; err: string } {
  const captured = { out: '', err: '' };
  return Object.assign(captured, { stdout: (s: string) => void (captured.out += s), stderr: (s: string) => void (captured.err += s), isTTY: false, env, cwd });
}

describe('keys rotate-root', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cachevault-rotate-root-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('wraps every version under the new root key, drops the old wrappings and pin, and the old key then opens nothing', async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const base = { CACHEVAULT_BACKEND: 'file', CACHEVAULT_FILE_DIR: join(dir, 'cache'), CACHEVAULT_KEYS_PROVIDERS: 'env', CACHEVAULT_AUDIT_ENABLED: 'false' };
    const withKey = (key: Buffer, extra: NodeJS.ProcessEnv = {}) => ({ ...base, CACHEVAULT_KEY: key.toString('base64'), ...extra });
    expect(await main(['set', 'a', '1'], io(withKey(oldKey), dir))).toBe(0);
    expect(await main(['encryption', 'rotate'], io(withKey(oldKey), dir))).toBe(0);
    const run = io(withKey(oldKey, { NEW_KEY: newKey.toString('base64') }), dir);
    expect(await main(['--json', 'keys', 'rotate-root', '--new-key-env', 'NEW_KEY'], run)).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ versions: ['k1', 'k2'], variable: 'CACHEVAULT_KEY' });

    const manifest = readFileSync(join(dir, 'keys.manifest.json'), 'utf8');
    expect(manifest).toContain(rootKeyFingerprint(newKey));
    expect(manifest).not.toContain(rootKeyFingerprint(oldKey));
    const pins = readdirSync(dir).filter((f) => f.startsWith('keys.revision-pin.'));
    expect(pins).toEqual([`keys.revision-pin.${rootKeyFingerprint(newKey)}.json`]);

    const get = io(withKey(newKey), dir);
    expect(await main(['get', 'a'], get)).toBe(0);
    expect(get.out.trim()).toBe('1');
    const stale = io(withKey(oldKey), dir);
    expect(await main(['--json', 'set', 'b', '2'], stale)).not.toBe(0);
    expect(JSON.parse(stale.out)).toMatchObject({ error: { code: 'ROOT_KEY_MISMATCH' } });
  });
});
