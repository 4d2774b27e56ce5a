import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measure, measureSync, medianRound, spread, type CaseResult } from '../../bench/harness';
import { describeMachine, formatMarkdown, latencySpec, throughputSpec, type SuiteRun } from '../../bench/support/report';

const run: SuiteRun = {
  seconds: 1.5,
  peakRssBytes: 100 * 1024 * 1024,
  result: {
    suite: 'demo',
    cases: [
      { name: 'ours', ops: 10, seconds: 1, opsPerSec: 10, samples: [8, 12, 10, 9, 11], latency: { calls: 10, p50Us: 5, p90Us: 7, p99Us: 9 } },
      { name: 'peer', ops: 5, seconds: 1, opsPerSec: 5 },
    ],
    ratios: [{ name: 'ours / peer', numerator: 'ours', denominator: 'peer', ratio: 2, target: 1.5, pass: true }],
    notes: ['a note'],
  },
};

describe('bench harness repetitions', () => {
  test('measure times its operations in 5 slices and adds a separate latency pass', async () => {
    let calls = 0;
    const c = await measure('x', () => {
      calls += 1;
    }, { ops: 100, warmup: 3, latencyCalls: 20 });
    expect(c.samples).toHaveLength(5);
    expect(c.ops).toBe(100);
    expect(c.latency?.calls).toBe(20);
    expect(c.latency!.p99Us).toBeGreaterThanOrEqual(c.latency!.p50Us);
    expect(calls).toBe(3 + 100 + 20);
  });

  test('a case with fewer operations than repetitions gets one slice per operation', async () => {
    const c = await measure('batch', () => undefined, { ops: 2, warmup: 0, batch: 50, latencyCalls: 0 });
    expect(c.samples).toHaveLength(2);
    expect(c.ops).toBe(100);
    expect(c.latency).toBeUndefined();
    expect(measureSync('s', () => undefined, { ops: 1000, warmup: 0 }).samples).toHaveLength(5);
  });

  test('medianRound keeps the median round and pools every round’s samples', () => {
    const round = (rate: number, samples: number[]): CaseResult => ({ name: 'x', ops: 1, seconds: 1, opsPerSec: rate, samples });
    const merged = medianRound([round(30, [29, 31]), round(10, [9, 11]), round(20, [19, 21])]);
    expect(merged.opsPerSec).toBe(20);
    expect(spread(merged)).toEqual({ min: 9, median: 20, max: 31, n: 6 });
  });

  test('spread of a case without samples is its single rate', () => {
    expect(spread(run.result.cases[1]!)).toEqual({ min: 5, median: 5, max: 5, n: 1 });
  });
});

describe('bench report', () => {
  test('the markdown puts every case beside its peers with min/median/max, latency, ratios and the machine', () => {
    const md = formatMarkdown({ date: '2026-12-06T00:00:00.000Z', quick: false, machine: describeMachine(join(__dirname, '..', '..')), peakRssBytes: 200 * 1024 * 1024, suites: [run], charts: ['demo-ops.svg'] });
    expect(md).toContain('| ours | 10.00 | 8.00 | 10.00 | 12.00 | 5 | 5.00 | 9.00 |');
    expect(md).toContain('| peer | 5.00 | 5.00 | 5.00 | 5.00 | 1 |  |  |');
    expect(md).toContain('| ours / peer | 2.00x | >= 1.5x | ok |');
    expect(md).toContain(`Node ${process.version}`);
    expect(md).toMatch(/Packages: cachevault \d/);
    expect(md).toContain('Peak RSS of the bench process: 200 MB');
    expect(md).toContain('![demo-ops.svg](demo-ops.svg)');
  });

  test('chart specs chart the median with its min-max, and latency only where measured', () => {
    const spec = throughputSpec(run) as { data: { values: { case: string; median: number; min: number; max: number }[] } };
    expect(spec.data.values).toEqual([
      { case: 'ours', min: 8, median: 10, max: 12, n: 5 },
      { case: 'peer', min: 5, median: 5, max: 5, n: 1 },
    ]);
    const latency = latencySpec(run) as { data: { values: { case: string; percentile: string; us: number }[] } };
    expect(latency.data.values.map((v) => `${v.case} ${v.percentile} ${v.us}`)).toEqual(['ours p50 5', 'ours p90 7', 'ours p99 9']);
    expect(latencySpec({ ...run, result: { ...run.result, cases: [run.result.cases[1]!] } })).toBeUndefined();
  });

  test('writeReport writes latest.json, latest.md and one SVG per chart', () => {
    // vega is ESM-only, which jest's CommonJS runtime cannot import(): write the report in a
    // tsx process, as `npm run bench` does.
    const dir = mkdtempSync(join(tmpdir(), 'cv-bench-report-'));
    try {
      const root = join(__dirname, '..', '..');
      const script = `
        const { writeReport, describeMachine } = require(${JSON.stringify(join(root, 'bench', 'support', 'report.ts'))});
        writeReport(${JSON.stringify(dir)}, { date: 'd', quick: true, machine: describeMachine(${JSON.stringify(root)}), peakRssBytes: 1, suites: [${JSON.stringify(run)}] })
          .then((r) => process.stdout.write(JSON.stringify({ charts: r.charts, note: r.chartsNote ?? null })));`;
      const out = JSON.parse(execFileSync(join(root, 'node_modules', '.bin', 'tsx'), ['-e', script], { cwd: root, encoding: 'utf8' })) as { charts: string[]; note: string | null };
      expect(out).toEqual({ charts: ['demo-ops.svg', 'demo-latency.svg'], note: null });
      const json = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as { suites: SuiteRun[] };
      expect(json.suites[0]!.result.cases[0]!.samples).toEqual([8, 12, 10, 9, 11]);
      expect(readFileSync(join(dir, 'latest.md'), 'utf8')).toContain('![demo-latency.svg](demo-latency.svg)');
      for (const chart of out.charts) expect(readFileSync(join(dir, chart), 'utf8')).toMatch(/^<svg[\s\S]*ours[\s\S]*<\/svg>$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
