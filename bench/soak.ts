/**
 * `npm run soak -- [--seconds N] [--json]`: starts DynamoDB Local (in memory, loopback), runs the
 * soak in bench/support/soakRun.ts against it (default 60 s), stops it, prints the report and
 * exits non-zero when a check fails (any error, RSS drift past 10%, open handles growing).
 */
import { startDynamoDbLocal } from '../client/local/dynamoDbLocal';
import { formatSoak, runSoak } from './support/soakRun';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

function numberOption(argv: readonly string[], name: string): number | undefined {
  const index = argv.indexOf(name);
  const raw = index >= 0 ? argv[index + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const progress = (m: string) => {
    if (!json) process.stderr.write(`${m}\n`);
  };
  const seconds = numberOption(argv, '--seconds') ?? 60;
  progress('soak: starting DynamoDB Local');
  const engine = await startDynamoDbLocal({ startTimeoutMs: 60_000 });
  try {
    const report = await runSoak({
      endpoint: engine.endpoint,
      seconds,
      warmupSeconds: numberOption(argv, '--warmup'),
      concurrency: numberOption(argv, '--concurrency'),
      keys: numberOption(argv, '--keys'),
      progress,
    });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatSoak(report)}\n`);
    return report.pass ? 0 : 1;
  } finally {
    await engine.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
