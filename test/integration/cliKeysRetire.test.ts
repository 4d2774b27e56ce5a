import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { cliWorkspace, expectCleanError, type CliWorkspace } from './cliRunner';

interface ErrorBody {
  ok: false;
  error: { code: string; message: string; hint: string | null };
}

describe('cachevault keys retire (built CLI, file cache, env key)', () => {
  let ws: CliWorkspace;
  let configFile: string;
  const run = (args: string[]) => ws.run(['--config', configFile, ...args]);
  const json = <T>(args: string[]) => ws.json<T>(['--config', configFile, ...args]);

  beforeAll(async () => {
    ws = cliWorkspace({ backend: 'file' });
    configFile = join(ws.dir, 'cachevault.config.json');
    writeFileSync(configFile, JSON.stringify({ encryption: { enabled: true } }));
    for (let i = 0; i < 3; i++) expect((await run(['set', `k${i}`, `"v${i}"`])).code).toBe(0);
    // k2 becomes active; the three entries stay sealed under k1.
    expect((await run(['encryption', 'rotate', '--no-sweep'])).code).toBe(0);
  }, 60_000);
  afterAll(() => ws.remove());

  it('refuses to retire a version that still seals live entries, saying how many and which sweep to run', async () => {
    const { code, body, stderr } = await json<ErrorBody>(['keys', 'retire', 'k1']);
    expect(code).toBe(1);
    expect(body.error).toEqual({
      code: 'KEY_VERSION_IN_USE',
      message: expect.stringMatching(/^Key version k1 still seals 3 live entries in .+; retiring it now would make them unreadable\.$/),
      hint: expect.stringContaining('`cachevault encryption rotate`'),
    });
    expectCleanError(stderr);
    // Nothing changed: the entries still read.
    expect((await json<{ value: unknown }>(['get', 'k1'])).body.value).toBe('v1');
  });

  it('refuses the active version and a malformed id', async () => {
    const active = await json<ErrorBody>(['keys', 'retire', 'k2']);
    expect(active.code).toBe(1);
    expect(active.body.error).toMatchObject({ code: 'KEY_STATE_INVALID', message: 'Key version k2 is active; only decrypt-only versions can be retired.' });
    const malformed = await run(['keys', 'retire', 'k 1']);
    expect(malformed.code).toBe(2);
    expectCleanError(malformed.stderr);
  });

  it('retires the old versions once the sweep has re-encrypted every entry, and the entries still read', async () => {
    expect((await run(['encryption', 'rotate'])).code).toBe(0);
    const { code, body } = await json<{ retired: string; scanned: number }>(['keys', 'retire', 'k1']);
    expect(code).toBe(0);
    expect(body).toEqual({ retired: 'k1', scanned: 3, keyIdMismatches: 0, mismatchSamples: [] });

    const text = await run(['keys', 'retire', 'k2']);
    expect(text.code).toBe(0);
    expect(text.stdout.trim()).toBe('Retired key version k2: none of the 3 live entries was sealed under it.');

    const status = await json<{ activeKeyId: string; manifestId: string; entriesByKeyId: Record<string, number>; entriesByVersion: Record<string, number> }>(['encryption', 'status']);
    expect(status.body).toMatchObject({ activeKeyId: 'k3', entriesByVersion: { k3: 3 } });
    expect(status.body.entriesByKeyId).toEqual({ [`k3:${status.body.manifestId}`]: 3 });
    for (let i = 0; i < 3; i++) expect((await json<{ value: unknown }>(['get', `k${i}`])).body.value).toBe(`v${i}`);
  });
});
