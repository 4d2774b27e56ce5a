/**
 * Runs the BUILT `cachevault` CLI (dist/client/cli/bin.js, built by `npm test`) as a subprocess
 * with a clean, explicit environment: the env key provider, a temporary file cache, key
 * manifest and audit log, and the test DynamoDB Local endpoint.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLI_BIN = resolve(__dirname, '..', '..', 'dist', 'client', 'cli', 'bin.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliWorkspace {
  /** Temporary working directory of the CLI. */
  readonly dir: string;
  /** The environment every run gets (override per run). */
  readonly env: Record<string, string>;
  run(args: readonly string[], options?: { env?: Record<string, string | undefined>; cwd?: string; input?: string }): Promise<CliResult>;
  /** Runs with --json and parses stdout. */
  json<T = Record<string, unknown>>(args: readonly string[], options?: { env?: Record<string, string | undefined> }): Promise<{ code: number; body: T; stderr: string }>;
  remove(): void;
}

export function assertBuilt(): void {
  if (!existsSync(CLI_BIN)) throw new Error(`${CLI_BIN} is missing: run \`npm run build\` (npm test does it first).`);
}

/** A workspace whose CLI runs use `tableName` on the test DynamoDB Local, with an env key. */
export function cliWorkspace(options: { tableName?: string; backend?: string } = {}): CliWorkspace {
  assertBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'cachevault-cli-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // No AWS credentials from the developer's machine: loopback endpoints get placeholders.
    AWS_EC2_METADATA_DISABLED: 'true',
    CACHEVAULT_KEYS_PROVIDERS: 'env',
    CACHEVAULT_KEY: randomBytes(32).toString('base64'),
    CACHEVAULT_FILE_DIR: join(dir, 'cache'),
    CACHEVAULT_KEYS_MANIFEST_PATH: join(dir, 'keys.manifest.json'),
    CACHEVAULT_AUDIT_PATH: join(dir, 'audit.log'),
    CACHEVAULT_BACKEND: options.backend ?? 'hybrid',
  };
  const endpoint = process.env.CACHEVAULT_TEST_DYNAMODB_ENDPOINT;
  if (endpoint) env.CACHEVAULT_DYNAMODB_ENDPOINT = endpoint;
  if (options.tableName) env.CACHEVAULT_DYNAMODB_TABLE_NAME = options.tableName;

  const run: CliWorkspace['run'] = (args, runOptions = {}) =>
    new Promise((done) => {
      const merged: Record<string, string> = { ...env };
      for (const [k, v] of Object.entries(runOptions.env ?? {})) {
        if (v === undefined) delete merged[k];
        else merged[k] = v;
      }
      const child = execFile(process.execPath, [CLI_BIN, ...args], { cwd: runOptions.cwd ?? dir, env: merged, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout: String(stdout), stderr: String(stderr) });
      });
      if (runOptions.input !== undefined) child.stdin?.end(runOptions.input);
      else child.stdin?.end();
    });

  return {
    dir,
    env,
    run,
    async json(args, runOptions) {
      const result = await run(['--json', ...args], runOptions);
      let body: unknown;
      try {
        body = JSON.parse(result.stdout);
      } catch {
        throw new Error(`stdout of \`cachevault --json ${args.join(' ')}\` (exit ${result.code}) is not JSON:\n${result.stdout}\nstderr:\n${result.stderr}`);
      }
      return { code: result.code, body: body as never, stderr: result.stderr };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Unique table names per test file, so files can run in parallel on one engine. */
export function uniqueTableName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** What every error printed by the CLI must look like: one `error:` line and a `hint:`, no stack (warnings may come first). */
export function expectCleanError(stderr: string): void {
  const lines = stderr.trim().split('\n').filter((l) => !l.startsWith('warning: '));
  expect(lines[0]).toMatch(/^error: \S/);
  expect(lines.filter((l) => l.startsWith('error: '))).toHaveLength(1);
  expect(stderr).toMatch(/^hint: \S/m);
  expect(stderr).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
}
