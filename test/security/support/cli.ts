import { execFile } from 'node:child_process';
import { assertBuilt, CLI_BIN, type CliResult } from '../../integration/cliRunner';
import type { TempCache } from './tempCache';

export type { CliResult };

/**
 * Runs the BUILT CLI (dist/, which `npm run security` and `npm test` build first) against a temp
 * cache: its env key, manifest, audit log and file backend, with HOME and cwd in the temp tree
 * and no AWS credentials from the machine. `env` entries set to undefined are removed.
 */
export function runCli(
  cache: TempCache,
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; input?: string; cwd?: string } = {},
): Promise<CliResult> {
  assertBuilt();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: cache.root,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...cache.env,
  };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((done) => {
    const child = execFile(process.execPath, [CLI_BIN, ...args], { cwd: options.cwd ?? cache.root, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.end(options.input ?? '');
  });
}
