/**
 * Hostile or careless configuration: a key pasted into the wrong field, a JSON syntax error next
 * to a key, an endpoint URL with a password. Nothing the CLI prints (stdout or stderr, human or
 * --json, with --verbose) may carry any of it. Runs the built CLI (`npm run build` first).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliWorkspace, type CliResult, type CliWorkspace } from '../integration/cliRunner';

/** Whether `output` holds any 8-character piece of `secret` (a partial leak counts). */
function leaks(output: string, secret: string): string | undefined {
  for (let i = 0; i + 8 <= secret.length; i++) if (output.includes(secret.slice(i, i + 8))) return secret.slice(i, i + 8);
  return undefined;
}

const both = (r: CliResult) => r.stdout + r.stderr;

describe('secrets in output', () => {
  let ws: CliWorkspace;
  const pastedKey = randomBytes(32).toString('base64');
  const hexKey = randomBytes(32).toString('hex').toUpperCase().replace(/^[0-9]/, 'A');
  const password = `pw${randomBytes(12).toString('hex')}`;

  beforeAll(() => {
    ws = cliWorkspace({ backend: 'file' });
  });
  afterAll(() => ws.remove());

  function configFile(name: string, content: string): string {
    const file = join(ws.dir, name);
    writeFileSync(file, content);
    return file;
  }

  it('a base64 key pasted into keys.envKey.variable is not printed by config validate', async () => {
    const file = configFile('pasted.json', JSON.stringify({ keys: { providers: ['env'], envKey: { variable: pastedKey } } }));
    const result = await ws.run(['config', 'validate', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('keys.envKey.variable');
    expect(leaks(both(result), pastedKey)).toBeUndefined();
  });

  it('a base64 key pasted into keys.envKey.variable is not printed by status, with --verbose or --json', async () => {
    const file = configFile('pasted2.json', JSON.stringify({ keys: { providers: ['env'], envKey: { variable: pastedKey } } }));
    for (const extra of [['--verbose'], ['--json']]) {
      const result = await ws.run(['--config', file, ...extra, 'status']);
      expect(result.code).toBe(2);
      expect(leaks(both(result), pastedKey)).toBeUndefined();
    }
  });

  it('a hex key that happens to look like a variable name is refused as one, and not printed', async () => {
    const file = configFile('hex.json', JSON.stringify({ keys: { providers: ['env'], envKey: { variable: hexKey } } }));
    const result = await ws.run(['config', 'validate', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('looks like a key');
    expect(leaks(both(result), hexKey)).toBeUndefined();
  });

  it('the same key given through the environment is not printed either', async () => {
    const result = await ws.run(['status'], { env: { CACHEVAULT_KEYS_ENV_KEY_VARIABLE: pastedKey } });
    expect(result.code).toBe(2);
    expect(leaks(both(result), pastedKey)).toBeUndefined();
  });

  it('a JSON syntax error right after a key is reported by line and column, without the text around it', async () => {
    const file = configFile('syntax.json', `{\n  "keys": { "envKey": { "variable": "${pastedKey}" x } }\n}\n`);
    for (const extra of [[], ['--verbose'], ['--json']]) {
      const result = await ws.run(['--config', file, ...extra, 'config', 'show']);
      expect(result.code).toBe(2);
      expect(both(result)).toMatch(/line 2, column \d+/);
      expect(leaks(both(result), pastedKey)).toBeUndefined();
    }
  });

  it('config show does not print the password of an endpoint URL', async () => {
    const file = configFile('endpoint.json', JSON.stringify({ dynamodb: { endpoint: `http://admin:${password}@127.0.0.1:1` } }));
    for (const extra of [[], ['--json']]) {
      const result = await ws.run(['--config', file, ...extra, 'config', 'show'], { env: { CACHEVAULT_DYNAMODB_ENDPOINT: undefined } });
      expect(result.code).toBe(0);
      expect(both(result)).toContain('http://***@127.0.0.1:1');
      expect(both(result)).not.toContain(password);
    }
    const fromEnv = await ws.run(['config', 'show'], { env: { CACHEVAULT_DYNAMODB_ENDPOINT: `http://admin:${password}@127.0.0.1:2` } });
    expect(fromEnv.code).toBe(0);
    expect(both(fromEnv)).toContain('http://***@127.0.0.1:2');
    expect(both(fromEnv)).not.toContain(password);
  });

  it('status does not print the password of an endpoint URL', async () => {
    const result = await ws.run(['--json', 'status'], { env: { CACHEVAULT_BACKEND: 'hybrid', CACHEVAULT_DYNAMODB_ENDPOINT: `http://admin:${password}@127.0.0.1:1`, CACHEVAULT_DYNAMODB_REQUEST_TIMEOUT_MS: '200', CACHEVAULT_DYNAMODB_MAX_ATTEMPTS: '1' } });
    expect(both(result)).not.toContain(password);
  });

  it('config set does not echo a key typed into the wrong field, and refuses it', async () => {
    const result = await ws.run(['--config', join(ws.dir, 'set.json'), 'config', 'set', 'keys.envKey.variable', pastedKey]);
    expect(result.code).toBe(2);
    expect(leaks(both(result), pastedKey)).toBeUndefined();
  });

  it('a key in a value that fails validation elsewhere (a table name) is not printed', async () => {
    const file = configFile('table.json', JSON.stringify({ dynamodb: { tableName: pastedKey } }));
    const result = await ws.run(['config', 'validate', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('dynamodb.tableName');
    expect(leaks(both(result), pastedKey)).toBeUndefined();
  });
});
