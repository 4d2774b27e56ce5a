import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AdvancedCacheConfig } from '../../client/config/schema';
import { cliWorkspace } from './cliRunner';

const root = resolve(__dirname, '..', '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

function runStart(cwd: string, port: number, path = process.env.PATH ?? '/usr/bin:/bin'): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      tsx,
      [join(root, 'client', 'local', 'start.ts'), '--port', String(port)],
      {
        cwd,
        timeout: 150_000,
        // CI=true: run once and exit. No D-Bus session: the keyring is unavailable, so the env-key fallback is exercised.
        env: { PATH: path, HOME: cwd, CI: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' },
      },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

describe('npm start (client/local/start.ts) in a script', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cachevault-start-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('brings up DynamoDB Local, the table and a key, proves the cache works, prints what to try, and stops cleanly', async () => {
    const port = await freePort();
    const first = await runStart(dir, port);
    // With stderr beside the code, a failed run says why.
    expect({ code: first.code, stderr: first.code === 0 ? '' : first.stderr }).toEqual({ code: 0, stderr: '' });
    expect(first.stdout).toContain('health: ok');
    expect(first.stdout).toMatch(/demo\/short-lived \(1 s TTL\): "gone soon" before, a miss after/);
    expect(first.stdout).toContain(`DynamoDB Local   http://127.0.0.1:${port}`);
    expect(first.stdout).toContain('table            cachevault (created now');
    expect(first.stdout).toContain('npx cachevault status');
    // Run without a terminal: it says DynamoDB Local stops, and how to get a stack that stays up.
    expect(first.stdout).toContain('Ran once');
    expect(first.stdout).toContain('run `npm start` in a terminal');
    expect(first.stdout).not.toContain('Try it');
    expect(first.stderr).toContain('No OS keyring is available here');

    const configPath = join(dir, '.cachevault', 'local', 'cachevault.config.json');
    expect(first.stdout).toContain(`export CACHEVAULT_CONFIG=${configPath}`);
    const config = AdvancedCacheConfig.parse(JSON.parse(readFileSync(configPath, 'utf8')));
    expect(config).toMatchObject({ backend: 'hybrid', keys: { providers: ['env'] }, dynamodb: { endpoint: `http://127.0.0.1:${port}`, tableName: 'cachevault' } });
    expect(statSync(join(dir, '.cachevault', 'local', 'env-key')).mode & 0o077).toBe(0);

    // The JVM is gone and the pid file removed: nothing left running after a scripted run.
    const pid = Number(/\(pid (\d+)\)/.exec(first.stdout)?.[1]);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(existsSync(join(dir, '.cachevault', 'local', 'start.pid'))).toBe(false);

    // The CLI accepts the written config as it is.
    const ws = cliWorkspace();
    try {
      const validated = await ws.run(['config', 'validate', configPath]);
      expect(validated.code).toBe(0);
    } finally {
      ws.remove();
    }

    // A second run finds the table DynamoDB Local persisted under .cachevault/local, and the cached data.
    const second = await runStart(dir, port);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('already there');
    expect(second.stdout).toContain('demo/greeting from the previous run is still there');
  }, 300_000);

  it('without Java it says so in one warning and runs the local default on memory + file', async () => {
    // A PATH holding only node: what a machine without Java looks like to the local stack.
    const bin = join(dir, 'node-only-bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, join(bin, 'node'));
    const noJava = mkdtempSync(join(tmpdir(), 'cachevault-start-nojava-'));
    try {
      const result = await runStart(noJava, await freePort(), bin);
      expect(result.code).toBe(0);
      const warnings = result.stderr.split('\n').filter((l) => l.includes('DynamoDB Local cannot run here'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^warning: .*memory \+ file only.*java.*was not found.*Install Java 17/);
      expect(result.stderr).not.toMatch(/^error:/m);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.stdout).toContain('health: ok');
      expect(result.stdout).toContain('DynamoDB Local   not running (no Java here)');
      const config = JSON.parse(readFileSync(join(noJava, '.cachevault', 'local', 'cachevault.config.json'), 'utf8')) as { hybrid: { tiers: string[] } };
      expect(config.hybrid.tiers).toEqual(['memory', 'file']);
      expect(existsSync(join(noJava, '.cachevault', 'local', 'start.pid'))).toBe(false);
    } finally {
      rmSync(noJava, { recursive: true, force: true });
    }
  }, 60_000);
});
