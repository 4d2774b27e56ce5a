/**
 * `npm run bench -- [suite ...] [--json] [--quick]`: runs benchmark suites (all when none is
 * named) and prints ops/s and same-run ratios against peers. Suites live in bench/suites/.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatSuite, type BenchContext, type BenchSuite, type SuiteResult } from './harness';
import { describeMachine, withPeakRss, writeReport, type SuiteRun } from './support/report';

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
  const runs: SuiteRun[] = [];
  const date = new Date().toISOString();
  for (const name of selected) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const suite = (require(`./suites/${name}`) as { default: BenchSuite }).default;
    ctx.progress(`running ${name}: ${suite.description}`);
    const started = Date.now();
    const { value: result, peakRssBytes } = await withPeakRss(() => suite.run(ctx));
    results.push(result);
    runs.push({ result, seconds: (Date.now() - started) / 1000, peakRssBytes });
    if (!json) process.stdout.write(`${formatSuite(result)}\n`);
  }
  const root = join(__dirname, '..');
  const resultsDir = join(__dirname, 'results');
  const report = await writeReport(resultsDir, {
    date,
    quick,
    machine: describeMachine(root),
    // maxRSS is in kilobytes.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    suites: runs,
  });
  if (json) process.stdout.write(`${JSON.stringify({ node: process.version, date, results }, null, 2)}\n`);
  else {
    process.stderr.write(`report: ${join(resultsDir, 'latest.md')}, ${join(resultsDir, 'latest.json')}${report.charts.length ? `, ${report.charts.length} charts` : ''}\n`);
    if (report.chartsNote) process.stderr.write(`${report.chartsNote}\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
