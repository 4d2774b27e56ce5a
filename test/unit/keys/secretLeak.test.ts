import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Runs a full keyring + KMS-fallback + rotation + backup + retire + failure cycle in a child
 * process (real pino logger at debug level, errors printed with stacks and causes, objects
 * inspected) and searches every byte it produced for the keys it used.
 */
describe('secrets never reach output', () => {
  it('no data key or root key appears, in hex or base64, in logs, errors, status, audit log or manifest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-leak-'));
    try {
      const secretsFile = join(dir, 'secrets.json');
      const tsx = resolve(__dirname, '../../../node_modules/.bin/tsx');
      const run = spawnSync(tsx, [resolve(__dirname, 'secretLeakCycle.ts'), dir, secretsFile], {
        encoding: 'utf8',
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        timeout: 60_000,
      });
      expect(run.status).toBe(0);
      const secrets = (JSON.parse(readFileSync(secretsFile, 'utf8')) as string[]).map((hex) => Buffer.from(hex, 'hex'));
      expect(secrets).toHaveLength(5);

      const output = run.stdout + run.stderr;
      // The cycle really produced the output we search: warnings, errors and status.
      expect(output).toMatch(/key provider kms is unavailable/);
      expect(output).toMatch(/passphrase is wrong/);
      expect(output).toMatch(/no key provider could do it/);
      expect(output).toMatch(/"activeKeyId":"k3"/);
      const files = readdirSync(dir)
        .filter((f) => f !== 'secrets.json' && f !== 'backup.cvkb')
        .map((f) => readFileSync(join(dir, f), 'utf8'));
      expect(files.length).toBeGreaterThanOrEqual(2);
      const haystack = [output, ...files].join('\n');
      const backup = readFileSync(join(dir, 'backup.cvkb'));

      for (const secret of secrets) {
        for (const form of [secret.toString('hex'), secret.toString('base64'), secret.toString('base64url'), secret.toString('hex').match(/../g)!.join(' ')]) {
          expect(haystack.includes(form)).toBe(false);
          // A partial leak (truncated dump, util.inspect's `<Buffer 3f a1 ...>`) counts too.
          expect(haystack.includes(form.slice(0, 24))).toBe(false);
        }
        expect(backup.includes(secret)).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
