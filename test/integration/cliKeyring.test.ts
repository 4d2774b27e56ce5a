import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBuilt, CLI_BIN } from './cliRunner';

/**
 * The one CLI test with the real OS keyring: a private D-Bus session with gnome-keyring (unlocked
 * with a throwaway password, fresh XDG dirs), the root key created by one CLI process and found
 * by the next. Skipped where gnome-keyring is not installed.
 */
const haveKeyring = ['/usr/bin/gnome-keyring-daemon', '/usr/bin/dbus-run-session', '/usr/bin/dbus-send'].every((p) => existsSync(p));
const maybe = haveKeyring ? describe : describe.skip;

maybe('cachevault with the real OS keyring (gnome-keyring in a private D-Bus session)', () => {
  let dir: string;
  beforeAll(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'cachevault-keyring-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stores the root key in the keyring: a second process reads what the first wrote, and the key is wrapped by the keyring', async () => {
    const cli = `"${process.execPath}" "${CLI_BIN}"`;
    const script = [
      'printf %s test-pass | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 & KR=$!',
      'i=0; until dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true; do i=$((i+1)); [ $i -gt 100 ] && exit 97; sleep 0.1; done',
      `${cli} set greeting '"from the keyring"' >/dev/null || exit 98`,
      `${cli} --json get greeting; rc=$?`,
      `${cli} --json status > status.json`,
      'kill $KR; exit $rc',
    ].join('\n');
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile('dbus-run-session', ['--', 'sh', '-c', script], {
        cwd: dir,
        timeout: 60_000,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: dir,
          XDG_DATA_HOME: join(dir, 'data'),
          XDG_CACHE_HOME: join(dir, 'cache-home'),
          XDG_RUNTIME_DIR: dir,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          CACHEVAULT_BACKEND: 'file',
          CACHEVAULT_KEYS_PROVIDERS: 'keyring',
          CACHEVAULT_KEYS_KEYRING_SERVICE: 'cachevault-cli-test',
        },
      }, (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }));
    });
    expect(result.stderr).not.toContain('error:');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ found: true, value: 'from the keyring' });
    const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')) as { encryption: { providers: string[]; versions: { id: string; wrappedBy: string[] }[] } };
    expect(status.encryption.providers).toEqual(['keyring']);
    expect(status.encryption.versions).toEqual([expect.objectContaining({ id: 'k1', wrappedBy: ['keyring'] })]);
  });
});
