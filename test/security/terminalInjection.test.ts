/**
 * Keys and values come from storage, which a writer of the cache directory or the table
 * controls: control characters in them must not reach the operator's terminal raw through
 * `get`, `set` or error output. Human output shows them escaped; --json stays exact JSON.
 * Runs the built CLI (`npm run build` first).
 */
import { cliWorkspace, type CliResult, type CliWorkspace } from '../integration/cliRunner';

// ESC ] title BEL (retitles the window), CSI clear screen, CR (overwrites the line), one-byte
// C1 CSI, right-to-left override, backspace and DEL.
const HOSTILE_KEY = 'k\u001b]0;pwned\u0007\r';
const HOSTILE_VALUE = 'ok\u001b[2J\rforged line\u009b31m\u202etxt.exe\b\u007f';
// eslint-disable-next-line no-control-regex -- looking for control characters is the point
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const both = (r: CliResult) => r.stdout + r.stderr;

describe('terminal injection', () => {
  let ws: CliWorkspace;
  beforeAll(() => {
    ws = cliWorkspace({ backend: 'file' });
  });
  afterAll(() => ws.remove());

  it('set with a hostile key prints no raw control character', async () => {
    const result = await ws.run(['set', HOSTILE_KEY, HOSTILE_VALUE, '--string']);
    expect(result.code).toBe(0);
    expect(both(result)).not.toMatch(RAW);
    expect(result.stdout).toContain('k\\x1b]0;pwned\\x07\\r');
  });

  it('get prints a hostile value escaped', async () => {
    const result = await ws.run(['get', HOSTILE_KEY]);
    expect(result.code).toBe(0);
    expect(both(result)).not.toMatch(RAW);
    expect(result.stdout).toContain('ok\\x1b[2J\\rforged line\\x9b31m\\u202etxt.exe\\x08\\x7f');
  });

  it('get --json returns the exact value, with every control character JSON-escaped', async () => {
    const result = await ws.run(['--json', 'get', HOSTILE_KEY]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(RAW);
    const body = JSON.parse(result.stdout) as { key: string; value: string };
    expect(body).toMatchObject({ key: HOSTILE_KEY, value: HOSTILE_VALUE });
  });

  it('the note for a missing hostile key is escaped', async () => {
    const result = await ws.run(['get', `${HOSTILE_KEY}-missing`]);
    expect(result.code).toBe(1);
    expect(both(result)).not.toMatch(RAW);
  });

  it('an error quoting hostile input is escaped', async () => {
    const result = await ws.run(['config', 'set', `file.\u001b[31mred`, '1']);
    expect(result.code).toBe(2);
    expect(both(result)).not.toMatch(RAW);
    expect(result.stderr).toContain('\\x1b[31m');
  });
});
