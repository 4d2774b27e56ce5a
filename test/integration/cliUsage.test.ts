import { cliWorkspace, expectCleanError, type CliWorkspace } from './cliRunner';

describe('cachevault usage errors and help (built CLI)', () => {
  let ws: CliWorkspace;
  beforeAll(() => {
    ws = cliWorkspace({ backend: 'file' });
  });
  afterAll(() => ws.remove());

  it('an unknown flag exits 2 with one error line, a suggestion and a hint', async () => {
    const { code, stderr, stdout } = await ws.run(['status', '--jsn']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expectCleanError(stderr);
    expect(stderr).toContain("unknown option '--jsn'");
    expect(stderr).toContain('--json');
  });

  it('an unknown command exits 2', async () => {
    const { code, stderr } = await ws.run(['stauts']);
    expect(code).toBe(2);
    expectCleanError(stderr);
    expect(stderr).toContain('status');
  });

  it('a missing argument exits 2', async () => {
    const { code, stderr } = await ws.run(['get']);
    expect(code).toBe(2);
    expect(stderr).toContain("missing required argument 'key'");
  });

  it('no command prints the help and exits 2', async () => {
    const { code, stdout, stderr } = await ws.run([]);
    expect(code).toBe(2);
    expect(stdout + stderr).toContain('Usage: cachevault');
  });

  it('--help lists every command and exits 0', async () => {
    const { code, stdout } = await ws.run(['--help']);
    expect(code).toBe(0);
    for (const command of ['status', 'config', 'encryption', 'keys', 'migrate', 'health', 'table', 'prune', 'gc', 'repair', 'reinit', 'audit', 'bench', 'get', 'set', 'delete']) {
      expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it('--version prints the package version', async () => {
    const { code, stdout } = await ws.run(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('a missing --config file exits 2 and names the path', async () => {
    const { code, stderr } = await ws.run(['--config', 'nowhere.json', 'status']);
    expect(code).toBe(2);
    expectCleanError(stderr);
    expect(stderr).toContain('nowhere.json');
  });

  it('a bad value in the environment names the variable it came from', async () => {
    const { code, stderr } = await ws.run(['status'], { env: { CACHEVAULT_FILE_MAX_BYTES: 'lots' } });
    expect(code).toBe(2);
    expect(stderr).toContain('file.maxBytes');
    expect(stderr).toContain('CACHEVAULT_FILE_MAX_BYTES');
  });

  it('bench --quick runs against the configured cache and reports same-run ratios as JSON', async () => {
    const { code, body } = await ws.json<{ results: { suite: string; cases: { name: string; opsPerSec: number }[]; ratios: { name: string; ratio: number }[] }[] }>(['bench', '--quick', '--ops', '50']);
    expect(code).toBe(0);
    const [suite] = body.results;
    expect(suite!.suite).toBe('cli:file');
    expect(suite!.cases.map((c) => c.name)).toEqual(expect.arrayContaining(['file set', 'file get hit', 'memory-peer get hit']));
    for (const c of suite!.cases) expect(c.opsPerSec).toBeGreaterThan(0);
    expect(suite!.ratios.map((r) => r.name)).toContain('file get hit / memory-peer get hit');
  });

  it('a key provider unavailable here (no keyring) is named in one warning with the fallback used', async () => {
    const { code, stderr } = await ws.run(['set', 'k', 'v'], {
      // A fresh manifest: the first key must be generated, and the keyring is asked first.
      env: { CACHEVAULT_KEYS_PROVIDERS: 'keyring,env', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent', CACHEVAULT_KEYS_MANIFEST_PATH: `${ws.dir}/fallback.manifest.json` },
    });
    expect(code).toBe(0);
    const warnings = stderr.split('\n').filter((l) => l.includes('keyring key provider is unavailable'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: .*using the env provider instead/);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it('with no key provider working, the error names each provider and its fix, without a stack', async () => {
    const { code, stderr } = await ws.run(['set', 'k', 'v'], {
      env: { CACHEVAULT_KEYS_PROVIDERS: 'keyring', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent', CACHEVAULT_KEYS_MANIFEST_PATH: `${ws.dir}/fresh.manifest.json` },
    });
    expect(code).toBe(1);
    expectCleanError(stderr);
    expect(stderr).toContain('no key provider could do it');
    expect(stderr).toContain('keyring:');
  });
});
