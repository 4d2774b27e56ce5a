/**
 * `npm start`: the local stack (see runLocal.ts) for this repository. Package users run the same
 * with `npx cachevault local`. With `--once`, `CI=true` or no terminal on stdin it does the run,
 * stops DynamoDB Local, says so, and exits 0.
 */
import { parseArgs } from 'node:util';
import { formatError, reportError } from '../cli/errors';
import { runLocalStack } from './runLocal';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function parseOptions(): { once: boolean; port: number | undefined; verbose: boolean } {
  const { values } = parseArgs({
    options: { once: { type: 'boolean' }, port: { type: 'string' }, verbose: { type: 'boolean', short: 'v' } },
    strict: true,
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65_535)) throw new Error(`--port must be a port number, got ${values.port}`);
  const once = values.once === true || process.env.CI === 'true' || process.stdin.isTTY !== true;
  return { once, port, verbose: values.verbose === true };
}

async function main(): Promise<number> {
  const options = parseOptions();
  return runLocalStack({ once: options.once, port: options.port, command: 'npm start' });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const report = reportError(err);
    process.stderr.write(formatError(report, err, process.argv.includes('--verbose') || process.argv.includes('-v')));
    process.exitCode = report.exitCode === 0 ? 1 : report.exitCode;
  },
);
