import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIo } from '../../../client/cli/index';

/** Path -> SHA-256 of every file under `root`. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out[path] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(root);
  return out;
}

describe('audit verify and audit report change nothing', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = async (argv: string[]) => {
    const captured = { out: '', err: '' };
    const io: CliIo = { stdout: (s) => void (captured.out += s), stderr: (s) => void (captured.err += s), isTTY: false, env, cwd: dir };
    return { code: await main(argv, io), ...captured };
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-audit-ro-'));
    env = {
      CACHEVAULT_BACKEND: 'file',
      CACHEVAULT_KEYS_PROVIDERS: 'env',
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
      CACHEVAULT_FILE_DIR: join(dir, 'cache'),
      CACHEVAULT_KEYS_MANIFEST_PATH: join(dir, 'keys.manifest.json'),
      CACHEVAULT_AUDIT_PATH: join(dir, 'audit.jsonl'),
      CACHEVAULT_LOGGING_LEVEL: 'silent',
    };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves every byte of the cache directory, manifest, pin and audit log as it was', async () => {
    expect((await cli(['set', 'a', '"alpha"'])).code).toBe(0);
    expect((await cli(['encryption', 'rotate'])).code).toBe(0);
    const before = snapshot(dir);
    expect(Object.keys(before)).toEqual(expect.arrayContaining([join(dir, 'audit.jsonl'), join(dir, 'keys.manifest.json')]));
    expect((await cli(['--json', 'audit', 'verify'])).code).toBe(0);
    expect((await cli(['--json', 'audit', 'report'])).code).toBe(0);
    expect(snapshot(dir)).toEqual(before);
  });

  it('on a fresh directory, verify creates no key, manifest or log', async () => {
    const verify = await cli(['--json', 'audit', 'verify']);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.out)).toMatchObject({ ok: true, status: 'empty' });
    expect(Object.keys(snapshot(dir)).filter((p) => !p.startsWith(join(dir, 'cache')))).toEqual([]);
  });
});
