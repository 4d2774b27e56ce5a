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
}

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
 * awaited one after another (latency-bound, like an app's request path).
 */
export async function measure(
  name: string,
  fn: (i: number) => unknown,
  options: { ops: number; warmup?: number; batch?: number; extra?: Record<string, number | string> },
): Promise<CaseResult> {
  const warmup = options.warmup ?? Math.min(1000, Math.ceil(options.ops / 10));
  for (let i = 0; i < warmup; i++) await fn(i);
  const started = performance.now();
  for (let i = 0; i < options.ops; i++) await fn(i);
  const seconds = (performance.now() - started) / 1000;
  const perCall = options.batch ?? 1;
  return { name, ops: options.ops * perCall, seconds, opsPerSec: (options.ops * perCall) / seconds, extra: options.extra };
}

/** Like `measure`, for a synchronous hot loop where awaiting each call would dominate. */
export function measureSync(name: string, fn: (i: number) => unknown, options: { ops: number; warmup?: number }): CaseResult {
  const warmup = options.warmup ?? Math.min(10_000, Math.ceil(options.ops / 10));
  for (let i = 0; i < warmup; i++) fn(i);
  const started = performance.now();
  for (let i = 0; i < options.ops; i++) fn(i);
  const seconds = (performance.now() - started) / 1000;
  return { name, ops: options.ops, seconds, opsPerSec: options.ops / seconds };
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
