/**
 * `npm run bench -- [suite ...] [--json] [--quick]`: runs benchmark suites (all when none is
 * named) and prints ops/s and same-run ratios against peers. Suites live in bench/suites/.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatSuite, type BenchContext, type BenchSuite, type SuiteResult } from './harness';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const names = argv.filter((a) => !a.startsWith('--'));
  const available = readdirSync(join(__dirname, 'suites'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.replace(/\.ts$/, ''));
  const selected = names.length > 0 ? names : available;
  const unknown = selected.filter((n) => !available.includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`Unknown bench suite(s): ${unknown.join(', ')}. Available: ${available.join(', ')}\n`);
    return 2;
  }
  const ctx: BenchContext = {
    json,
    quick,
    args: argv,
    progress: (m) => {
      if (!json && process.stderr.isTTY) process.stderr.write(`\r\x1b[K${m}`);
      else if (!json) process.stderr.write(`${m}\n`);
    },
  };
  const results: SuiteResult[] = [];
  for (const name of selected) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const suite = (require(`./suites/${name}`) as { default: BenchSuite }).default;
    ctx.progress(`running ${name}: ${suite.description}`);
    const result = await suite.run(ctx);
    results.push(result);
    if (!json) process.stdout.write(`${formatSuite(result)}\n`);
  }
  if (json) process.stdout.write(`${JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, null, 2)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
