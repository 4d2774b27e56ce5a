/**
 * A client with a wrong root key or config fails closed and changes nothing shared; read-only
 * commands change no byte on disk. Each attempt runs the CLI in-process on a temp tree (file
 * cache, env root key, audit log on) and hashes the whole tree before and after.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { main, type CliIo } from '../../client/cli/index';

function io(env: NodeJS.ProcessEnv, cwd: string): CliIo & { out: string; err: string } {
  const captured = { out: '', err: '' };
  return Object.assign(captured, {
    stdout: (s: string) => void (captured.out += s),
    stderr: (s: string) => void (captured.err += s),
    isTTY: false,
    env,
    cwd,
  });
}

/** Every file under `dir` with the hash of its bytes (and its size, to name what changed). */
function treeHash(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

describe('keys fail closed', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const cli = io({ ...env, ...extra }, dir);
    const code = await main(args, cli);
    return { code, out: cli.out, err: cli.err };
  };
  const manifest = () => JSON.parse(readFileSync(join(dir, 'keys.manifest.json'), 'utf8')) as { versions: { id: string }[] };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cachevault-failclosed-'));
    env = {
      CACHEVAULT_BACKEND: 'file',
      CACHEVAULT_FILE_DIR: join(dir, 'cache'),
      CACHEVAULT_KEYS_PROVIDERS: 'env',
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
      CACHEVAULT_AUDIT_ENABLED: 'true',
    };
    expect((await run(['set', 'a', '1'])).code).toBe(0);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a wrong but well-formed CACHEVAULT_KEY cannot write: ROOT_KEY_MISMATCH, no new key version, nothing changed', async () => {
    const before = treeHash(dir);
    const wrong = { CACHEVAULT_KEY: randomBytes(32).toString('base64') };
    const set = await run(['--json', 'set', 'b', '2'], wrong);
    expect(set.code).not.toBe(0);
    expect(JSON.parse(set.out)).toMatchObject({ ok: false, error: { code: 'ROOT_KEY_MISMATCH' } });
    expect(manifest().versions.map((v) => v.id)).toEqual(['k1']);
    expect(treeHash(dir)).toEqual(before);
  });

  it('alternating the right and a wrong key never multiplies key versions, and the right key still reads', async () => {
    const wrong = { CACHEVAULT_KEY: randomBytes(32).toString('base64') };
    for (let i = 0; i < 3; i++) {
      await run(['set', `w${i}`, 'x'], wrong);
      expect((await run(['set', `r${i}`, 'y'])).code).toBe(0);
    }
    expect(manifest().versions.map((v) => v.id)).toEqual(['k1']);
    const get = await run(['get', 'a']);
    expect(get.code).toBe(0);
    expect(get.out.trim()).toBe('1');
  });

  it('a wrong key does not report healthy', async () => {
    const wrong = { CACHEVAULT_KEY: randomBytes(32).toString('base64') };
    const health = await run(['--json', 'health'], wrong);
    expect(health.code).not.toBe(0);
    expect(health.out).toContain('ROOT_KEY_MISMATCH');
  });

  it('a degenerate root key (all zero) is refused with ROOT_KEY_WEAK and creates nothing', async () => {
    rmSync(join(dir, 'keys.manifest.json'));
    for (const f of readdirSync(dir).filter((n) => n.startsWith('keys.revision-pin.'))) rmSync(join(dir, f));
    const zero = { CACHEVAULT_KEY: Buffer.alloc(32).toString('base64'), CACHEVAULT_FILE_DIR: join(dir, 'fresh') };
    const set = await run(['--json', 'set', 'b', '2'], zero);
    expect(set.code).not.toBe(0);
    expect(JSON.parse(set.out)).toMatchObject({ ok: false, error: { code: 'ROOT_KEY_WEAK' } });
    expect(readdirSync(dir)).not.toContain('keys.manifest.json');
  });

  it.each([
    ['status', ['status']],
    ['health', ['health']],
    ['config show', ['config', 'show']],
    ['audit report', ['audit', 'report']],
    ['encryption status', ['encryption', 'status']],
  ])('%s leaves every byte of the cache dir, manifest and audit log unchanged', async (_name, args) => {
    const before = treeHash(dir);
    await run(args);
    expect(treeHash(dir)).toEqual(before);
  });

  it('status with the key provider down creates no key version', async () => {
    rmSync(join(dir, 'keys.manifest.json'));
    for (const f of readdirSync(dir).filter((n) => n.startsWith('keys.revision-pin.'))) rmSync(join(dir, f));
    const before = treeHash(dir);
    // A fresh cache whose only provider cannot work: status reports it and makes nothing.
    const status = await run(['--json', 'status'], { CACHEVAULT_KEY: '' });
    expect(status.code).not.toBe(0);
    expect(treeHash(dir)).toEqual(before);
  });
});
