/**
 * A small measurement harness shared by every suite: time a case for a fixed number of
 * operations (after a warm-up), report ops/s, and compare cases measured in the same run as
 * ratios against targets. Absolute numbers vary 10-60% run to run on shared VMs; ratios between
 * cases measured side by side are what the targets are about.
 */
import { performance } from 'node:perf_hooks';

export interface BenchContext {
  /** Print machine-readable JSON instead of tables. */
  readonly json: boolean;
  /** Fewer operations, for smoke runs in tests. */
  readonly quick: boolean;
  readonly args: readonly string[];
  /** Progress output (stderr on a TTY); silent under --json. */
  progress(message: string): void;
}

export interface CaseResult {
  readonly name: string;
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  /** Optional extra figures (MB/s, bytes, ...). */
  readonly extra?: Record<string, number | string>;
  /**
   * ops/s of each timed repetition (the ops are cut into `repetitions` slices timed apart, and
   * rounds a suite runs add theirs), for the report's min/median/max. Absent: one timing only.
   */
  readonly samples?: readonly number[];
  /** Per-call latency from a separate, untimed-for-throughput pass (async cases only). */
  readonly latency?: LatencyPercentiles;
}

export interface LatencyPercentiles {
  readonly calls: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
}

/** Each case is timed in this many slices, so the report can give min/median/max. */
export const DEFAULT_REPETITIONS = 5;

export interface RatioResult {
  readonly name: string;
  readonly numerator: string;
  readonly denominator: string;
  readonly ratio: number;
  /** Target ratio (at least); undefined when only reported. */
  readonly target?: number;
  readonly pass?: boolean;
}

export interface SuiteResult {
  readonly suite: string;
  readonly cases: CaseResult[];
  readonly ratios: RatioResult[];
  readonly notes?: string[];
}

export interface BenchSuite {
  readonly name: string;
  readonly description: string;
  run(ctx: BenchContext): Promise<SuiteResult>;
}

/**
 * Runs `fn` `ops` times after `warmup` calls; `fn` receives the iteration index. Calls are
 * awaited one after another (latency-bound, like an app's request path). The ops are timed in
 * `repetitions` slices (ops/s of each in `samples`; `opsPerSec` is over all of them); then, with
 * `latencyCalls` > 0, that many more calls are timed one by one for percentiles, apart from the
 * throughput figures so the clock reads cannot slow them.
 */
export async function measure(
  name: string,
  fn: (i: number) => unknown,
  options: {
    ops: number;
    warmup?: number;
    batch?: number;
    extra?: Record<string, number | string>;
    /** @default DEFAULT_REPETITIONS (fewer when `ops` is smaller) */
    repetitions?: number;
    /** @default min(ops, 2000) */
    latencyCalls?: number;
  },
): Promise<CaseResult> {
  const warmup = options.warmup ?? Math.min(1000, Math.ceil(options.ops / 10));
  for (let i = 0; i < warmup; i++) await fn(i);
  const perCall = options.batch ?? 1;
  const slices = sliceOps(options.ops, options.repetitions ?? DEFAULT_REPETITIONS);
  const samples: number[] = [];
  let seconds = 0;
  let i = 0;
  for (const slice of slices) {
    const started = performance.now();
    for (const end = i + slice; i < end; i++) await fn(i);
    const elapsed = (performance.now() - started) / 1000;
    seconds += elapsed;
    samples.push((slice * perCall) / elapsed);
  }
  const latencyCalls = options.latencyCalls ?? Math.min(options.ops, 2_000);
  let latency: LatencyPercentiles | undefined;
  if (latencyCalls > 0) {
    const times = new Float64Array(latencyCalls);
    for (let j = 0; j < latencyCalls; j++) {
      const started = performance.now();
      await fn(j);
      times[j] = (performance.now() - started) * 1000;
    }
    times.sort();
    const at = (p: number) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)]!;
    latency = { calls: latencyCalls, p50Us: at(50), p90Us: at(90), p99Us: at(99) };
  }
  return { name, ops: options.ops * perCall, seconds, opsPerSec: (options.ops * perCall) / seconds, extra: options.extra, samples, latency };
}

/** Like `measure`, for a synchronous hot loop where awaiting each call would dominate (no latency pass: a clock read costs more than the call). */
export function measureSync(name: string, fn: (i: number) => unknown, options: { ops: number; warmup?: number; repetitions?: number }): CaseResult {
  const warmup = options.warmup ?? Math.min(10_000, Math.ceil(options.ops / 10));
  for (let i = 0; i < warmup; i++) fn(i);
  const samples: number[] = [];
  let seconds = 0;
  let i = 0;
  for (const slice of sliceOps(options.ops, options.repetitions ?? DEFAULT_REPETITIONS)) {
    const started = performance.now();
    for (const end = i + slice; i < end; i++) fn(i);
    const elapsed = (performance.now() - started) / 1000;
    seconds += elapsed;
    samples.push(slice / elapsed);
  }
  return { name, ops: options.ops, seconds, opsPerSec: options.ops / seconds, samples };
}

/** `ops` cut into at most `repetitions` near-equal slices (fewer when ops are fewer). */
function sliceOps(ops: number, repetitions: number): number[] {
  const n = Math.max(1, Math.min(ops, Math.floor(repetitions)));
  return Array.from({ length: n }, (_, k) => Math.floor((ops * (k + 1)) / n) - Math.floor((ops * k) / n));
}

/**
 * Of one case measured in several interleaved rounds, the round with the median rate, carrying
 * the samples of every round (so the report's min/median/max spans them all).
 */
export function medianRound(results: readonly CaseResult[]): CaseResult {
  const sorted = [...results].sort((a, b) => a.opsPerSec - b.opsPerSec);
  const chosen = sorted[Math.floor(sorted.length / 2)]!;
  return { ...chosen, samples: results.flatMap((r) => r.samples ?? [r.opsPerSec]) };
}

/** min / median / max of a case's repetitions (its single rate when it has none). */
export function spread(c: CaseResult): { min: number; median: number; max: number; n: number } {
  const xs = [...(c.samples ?? [c.opsPerSec])].sort((a, b) => a - b);
  const mid = xs.length % 2 === 1 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2;
  return { min: xs[0]!, median: mid, max: xs[xs.length - 1]!, n: xs.length };
}

export function ratio(cases: readonly CaseResult[], numerator: string, denominator: string, target?: number): RatioResult {
  const find = (n: string) => {
    const c = cases.find((x) => x.name === n);
    if (!c) throw new Error(`bench: no case named ${n}`);
    return c;
  };
  const value = find(numerator).opsPerSec / find(denominator).opsPerSec;
  return { name: `${numerator} / ${denominator}`, numerator, denominator, ratio: value, target, pass: target === undefined ? undefined : value >= target };
}

export function formatSuite(result: SuiteResult): string {
  const lines: string[] = [`\n## ${result.suite}`, ''];
  const width = Math.max(...result.cases.map((c) => c.name.length), 4);
  lines.push(`${'case'.padEnd(width)}  ${'ops/s'.padStart(14)}  ${'ops'.padStart(8)}  extra`);
  for (const c of result.cases) {
    const extra = c.extra ? Object.entries(c.extra).map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : v}`).join(' ') : '';
    lines.push(`${c.name.padEnd(width)}  ${fmt(c.opsPerSec).padStart(14)}  ${String(c.ops).padStart(8)}  ${extra}`);
  }
  if (result.ratios.length > 0) {
    lines.push('', 'ratios (same run):');
    for (const r of result.ratios) {
      const verdict = r.target === undefined ? '' : r.pass ? `  ok (target >= ${r.target}x)` : `  BELOW target ${r.target}x`;
      lines.push(`  ${r.name}: ${r.ratio.toFixed(2)}x${verdict}`);
    }
  }
  for (const note of result.notes ?? []) lines.push(`  note: ${note}`);
  return lines.join('\n');
}

function fmt(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(2);
}
