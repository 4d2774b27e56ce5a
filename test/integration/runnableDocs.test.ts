import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Every code block in README.md and docs/*.md fenced as ```sh runnable or ```ts runnable runs as
 * written, in a scratch app where `cachevault` is the built package (npx finds its CLI), with no
 * keyring and no AWS credentials, the DynamoDB Local the integration tests run available as
 * $DYNAMODB_ENDPOINT, and a key in CACHEVAULT_KEY. The blocks of one file run in order in one
 * directory, so a later block sees what an earlier one wrote, as a reader following the page would.
 * Needs dist/ (`npm test` builds first).
 */
const root = resolve(__dirname, '../..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

interface Block {
  readonly file: string;
  readonly line: number;
  readonly lang: 'sh' | 'ts';
  readonly code: string;
}

function runnableBlocks(file: string): Block[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(sh|ts) runnable\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i + 1;
    while (i + 1 < lines.length && lines[i + 1] !== '```') i++;
    blocks.push({ file, line: start, lang: open[1] as 'sh' | 'ts', code: lines.slice(start, i + 1).join('\n') });
    i++;
  }
  return blocks;
}

const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const byFile = files.map((file) => [file, runnableBlocks(file)] as const).filter(([, blocks]) => blocks.length > 0);

function scratchApp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cv-docs-'));
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules', 'cachevault'), 'dir');
  // What npm install puts in node_modules/.bin for the package's bin.
  const bin = join(dir, 'node_modules', '.bin', 'cachevault');
  writeFileSync(bin, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(root, 'dist', 'client', 'cli', 'bin.js'))} "$@"\n`);
  chmodSync(bin, 0o755);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'docs-app', private: true, type: 'module' }));
  return dir;
}

describe('runnable code blocks in the docs', () => {
  test('there are runnable blocks to check', () => {
    expect(byFile.map(([file]) => file)).toEqual(expect.arrayContaining(['README.md']));
  });

  describe.each(byFile)('%s', (file, blocks) => {
    const dir = scratchApp();
    const env = {
      PATH: `${join(dir, 'node_modules', '.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: dir,
      XDG_CACHE_HOME: join(dir, '.cache'),
      DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent',
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
      DYNAMODB_ENDPOINT: process.env.CACHEVAULT_TEST_DYNAMODB_ENDPOINT ?? '',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // A loaded CI machine can take longer than the 3 s default for DynamoDB Local's CreateTable,
      // and a timed-out CreateTable retried by the SDK meets its own table ("already exists").
      CACHEVAULT_DYNAMODB_REQUEST_TIMEOUT_MS: '30000',
      npm_config_yes: 'false',
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
    };
    test.each(blocks.map((b) => [`${b.lang} block at line ${b.line}`, b] as const))('%s runs as written', (_name, block) => {
      let failure = '';
      try {
        if (block.lang === 'sh') {
          execFileSync('bash', ['--norc', '--noprofile', '-euo', 'pipefail', '-c', block.code], { cwd: dir, env, stdio: 'pipe', timeout: 60_000 });
        } else {
          const path = join(dir, `block-${block.line}.mts`);
          writeFileSync(path, block.code);
          // A reader who ran `export CACHEVAULT_KEY=$(cat .cachevault/env-key)` above has it set here too.
          const keyFile = join(dir, '.cachevault', 'env-key');
          const withKey = existsSync(keyFile) ? { ...env, CACHEVAULT_KEY: readFileSync(keyFile, 'utf8').trim() } : env;
          execFileSync(tsx, [path], { cwd: dir, env: withKey, stdio: 'pipe', timeout: 60_000 });
        }
      } catch (err) {
        const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
        failure = `${block.file}:${block.line}\n${String(e.stdout ?? '')}${String(e.stderr ?? '') || e.message}`;
      }
      expect(failure).toBe('');
    });
  });
});
