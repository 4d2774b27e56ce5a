/**
 * Everything the CLI writes goes through here: results as human text or as one JSON document
 * (`--json`), warnings on stderr, progress bars only on an interactive terminal. Nothing reaches
 * the terminal raw: control characters are escaped in human output (terminalText.ts) and
 * warnings and notes pass through the redaction of config/redact.ts (key-like strings, URL
 * passwords). Results are data the user asked for and are not redacted; commands redact the
 * configuration values they show (`config show`) at the source.
 */
import { SingleBar, Presets } from 'cli-progress';
import { redactText } from '../config/redact';
import { escapeControl, escapeInline, escapeJsonText } from './terminalText';

/** Where the CLI reads and writes; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is an interactive terminal (progress bars, prompts). */
  readonly isTTY: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Asks a question on the terminal; undefined when none is attached. */
  readonly prompt?: (question: string, options: { secret: boolean }) => Promise<string>;
}

export interface Progress {
  update(done: number, detail?: Record<string, string | number>): void;
  setTotal(total: number): void;
  stop(): void;
}

const noProgress: Progress = { update() {}, setTotal() {}, stop() {} };

export type Cell = string | number | boolean | null | undefined;

export class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** The command's result: `data` as JSON with --json, else `human(data)`. */
  result<T>(data: T, human: (data: T) => string): void {
    if (this.json) this.io.stdout(`${escapeJsonText(JSON.stringify(data, jsonReplacer, 2))}\n`);
    else {
      const text = escapeControl(human(data));
      if (text !== '') this.io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  /** A warning for the human at the terminal; on stderr so `--json` stdout stays parseable. */
  warn(message: string): void {
    this.io.stderr(`warning: ${terminalSafe(message)}\n`);
  }

  /** Informational chatter for humans only (suppressed with --json). */
  note(message: string): void {
    if (!this.json) this.io.stderr(`${terminalSafe(message)}\n`);
  }

  /** A progress bar on an interactive terminal; a no-op otherwise and under --json. */
  progress(label: string, total: number): Progress {
    if (this.json || !this.io.isTTY) return noProgress;
    const bar = new SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
      Presets.shades_classic,
    );
    bar.start(total, 0);
    return {
      update: (done, detail) => bar.update(done, detail),
      setTotal: (t) => bar.setTotal(t),
      stop: () => bar.stop(),
    };
  }
}

/** A message for stderr: redacted, then with control characters made visible. */
export function terminalSafe(message: string): string {
  return escapeControl(redactText(message));
}

/** Buffers become base64 and bigints strings, so any result serialises. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}

/** A plain aligned text table; columns are the keys of the first row unless given. */
export function table(rows: readonly Record<string, Cell>[], columns?: readonly string[]): string {
  if (rows.length === 0) return '(none)';
  const cols = columns ?? Object.keys(rows[0]!);
  const cell = (v: Cell): string => (v === null || v === undefined ? '-' : typeof v === 'number' ? formatNumber(v) : escapeInline(String(v)));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols.map((c) => c.toUpperCase())), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

/** `key: value` lines, aligned. */
export function keyValues(pairs: Readonly<Record<string, Cell>>): string {
  const width = Math.max(...Object.keys(pairs).map((k) => k.length));
  return Object.entries(pairs)
    .map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v === null || v === undefined ? '-' : typeof v === 'number' ? formatNumber(v) : escapeInline(String(v))}`)
    .join('\n');
}

export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return n.toFixed(2);
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

export function formatAge(ms: number): string {
  const days = ms / 86_400_000;
  if (days >= 1) return `${days.toFixed(1)} d`;
  const hours = ms / 3_600_000;
  if (hours >= 1) return `${hours.toFixed(1)} h`;
  return `${Math.round(ms / 60_000)} min`;
}
