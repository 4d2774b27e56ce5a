import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIo } from '../../../client/cli/index';

describe('cachevault audit archive', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = async (argv: string[]) => {
    const captured = { out: '', err: '' };
    const io: CliIo = { stdout: (s) => void (captured.out += s), stderr: (s) => void (captured.err += s), isTTY: false, env, cwd: dir };
    return { code: await main(argv, io), ...captured };
  };
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cv-audit-archive-'));
    env = {
      CACHEVAULT_BACKEND: 'file',
      CACHEVAULT_KEYS_PROVIDERS: 'env',
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
      CACHEVAULT_FILE_DIR: join(dir, 'cache'),
      CACHEVAULT_KEYS_MANIFEST_PATH: join(dir, 'keys.manifest.json'),
      CACHEVAULT_AUDIT_PATH: join(dir, 'audit.jsonl'),
      CACHEVAULT_LOGGING_LEVEL: 'silent',
    };
    expect((await cli(['set', 'a', '"alpha"'])).code).toBe(0);
    expect((await cli(['encryption', 'rotate'])).code).toBe(0);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('archives a verified log; verify then passes on the continued log', async () => {
    const archived = await cli(['--json', 'audit', 'archive']);
    expect(archived.code).toBe(0);
    const body = JSON.parse(archived.out) as { archive: string; records: number };
    expect(body.records).toBe(3);
    expect(existsSync(body.archive)).toBe(true);
    expect(readFileSync(join(dir, 'audit.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(1);
    const verify = await cli(['--json', 'audit', 'verify']);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.out)).toMatchObject({ ok: true, status: 'verified', records: 1, anchoredSeq: 4 });
  });

  it('refuses to archive a log that does not verify, so an edit cannot be laundered', async () => {
    const path = join(dir, 'audit.jsonl');
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    lines[0] = lines[0]!.replace('"reason":"initial"', '"reason":"other"');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const archived = await cli(['audit', 'archive']);
    expect(archived.code).toBe(2);
    expect(archived.err).toContain('archiving would launder it');
    expect(readFileSync(path, 'utf8').trimEnd().split('\n')).toHaveLength(3);
  });
});
