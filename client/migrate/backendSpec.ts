import { isAbsolute, resolve } from 'node:path';
import { AdvancedCacheConfig, type CacheConfigInput } from '../config/schema';
import { BackendSpecError, redactSpec } from './errors';

/** What a spec names: a backend type and the config fields it sets. */
export interface BackendSpec {
  readonly type: 'memory' | 'file' | 'dynamodb';
  /** Partial config to merge over the loaded config (`backend` plus that backend's section). */
  readonly config: CacheConfigInput;
}

export interface ParseSpecOptions {
  /** Relative file directories are resolved against this. @default process.cwd() */
  readonly cwd?: string;
}

/** Query parameters each backend takes, and how they are parsed. */
const PARAMETERS = {
  memory: { maxEntries: 'int', maxBytes: 'int' },
  file: { durability: 'string', maxBytes: 'int', maxEntries: 'int', spillThresholdBytes: 'int', busyTimeoutMs: 'int' },
  dynamodb: {
    region: 'string',
    endpoint: 'string',
    consistentRead: 'boolean',
    requestTimeoutMs: 'int',
    maxAttempts: 'int',
    chunkBytes: 'int',
    batchRetryDeadlineMs: 'int',
    createTable: 'boolean',
  },
} as const satisfies Record<BackendSpec['type'], Record<string, 'int' | 'string' | 'boolean'>>;

/**
 * Parses a backend spec as the CLI takes it (`--from`, `--to`):
 *
 * - `memory:` (optionally `memory:?maxEntries=1000`)
 * - `file:./dir`, `file:/abs/dir?durability=full`
 * - `dynamodb:TABLE?region=us-east-1&endpoint=http://127.0.0.1:8000`
 *
 * Values are validated with the config schema, so a spec accepts exactly what the config file
 * accepts, with the same limits. Relative file paths are made absolute (a resumed migration run
 * from another directory still names the same cache).
 */
export function parseBackendSpec(spec: string, options: ParseSpecOptions = {}): BackendSpec {
  if (typeof spec !== 'string' || spec.trim() === '') throw new BackendSpecError(String(spec), 'it is empty');
  const colon = spec.indexOf(':');
  if (colon <= 0) throw new BackendSpecError(spec, 'it does not start with a backend type (memory:, file:, dynamodb:)');
  const type = spec.slice(0, colon).toLowerCase();
  if (!(type in PARAMETERS)) {
    const hint = type === 'hybrid' ? '; a hybrid cache is migrated tier by tier (name the file or dynamodb tier)' : '';
    throw new BackendSpecError(spec, `unknown backend type ${JSON.stringify(type)}; expected memory, file or dynamodb${hint}`);
  }
  const rest = spec.slice(colon + 1);
  const q = rest.indexOf('?');
  let target: string;
  try {
    target = decodeURIComponent(q === -1 ? rest : rest.slice(0, q));
  } catch {
    throw new BackendSpecError(spec, 'the location has a malformed %-escape (write a literal % as %25)');
  }
  const params = parseParams(spec, type as BackendSpec['type'], q === -1 ? '' : rest.slice(q + 1));
  const backendType = type as BackendSpec['type'];

  let config: CacheConfigInput;
  if (backendType === 'memory') {
    if (target !== '') throw new BackendSpecError(spec, 'memory: takes no location (write memory: or memory:?maxEntries=N)');
    config = { backend: 'memory', memory: params };
  } else if (backendType === 'file') {
    if (target === '') throw new BackendSpecError(spec, 'file: needs a directory, e.g. file:./cache or file:/var/cache/app');
    const dir = isAbsolute(target) ? target : resolve(options.cwd ?? process.cwd(), target);
    config = { backend: 'file', file: { ...params, dir } };
  } else {
    if (target === '') throw new BackendSpecError(spec, 'dynamodb: needs a table name, e.g. dynamodb:my-cache-table');
    config = { backend: 'dynamodb', dynamodb: { ...params, tableName: target } };
  }

  const checked = AdvancedCacheConfig.safeParse(config);
  if (!checked.success) {
    const problems = checked.error.issues.map((issue) => `${issue.path.slice(1).join('.') || issue.path.join('.')}: ${issue.message}`);
    throw new BackendSpecError(spec, problems.join('; '));
  }
  const endpoint = backendType === 'dynamodb' ? checked.data.dynamodb.endpoint : undefined;
  if (endpoint !== undefined && new URL(endpoint).username !== '') {
    throw new BackendSpecError(spec, 'the endpoint must not carry credentials; use the AWS credential chain');
  }
  return { type: backendType, config };
}

function parseParams(spec: string, type: BackendSpec['type'], query: string): Record<string, string | number | boolean> {
  const allowed: Record<string, 'int' | 'string' | 'boolean'> = PARAMETERS[type];
  const out: Record<string, string | number | boolean> = {};
  for (const [name, raw] of new URLSearchParams(query)) {
    const kind = allowed[name];
    if (kind === undefined) {
      throw new BackendSpecError(spec, `unknown parameter ${JSON.stringify(name)} for ${type}:; allowed: ${Object.keys(allowed).join(', ') || 'none'}`);
    }
    if (name in out) throw new BackendSpecError(spec, `parameter ${name} is given twice`);
    if (kind === 'int') {
      if (!/^\d+$/.test(raw)) throw new BackendSpecError(spec, `${name} must be a whole number, got ${JSON.stringify(raw)}`);
      out[name] = Number(raw);
    } else if (kind === 'boolean') {
      if (raw !== 'true' && raw !== 'false') throw new BackendSpecError(spec, `${name} must be true or false, got ${JSON.stringify(raw)}`);
      out[name] = raw === 'true';
    } else out[name] = raw;
  }
  return out;
}

/**
 * A canonical, secret-free description of a spec for plan hashes and reports: the type, the
 * resolved location and only the parameters that change where data lands (region, endpoint),
 * in a fixed order; tuning parameters (durability, timeouts) are left out. Two specs naming the same place describe alike.
 */
export function describeSpec(spec: string | BackendSpec, options: ParseSpecOptions = {}): string {
  const parsed = typeof spec === 'string' ? parseBackendSpec(spec, options) : spec;
  const config = AdvancedCacheConfig.parse(parsed.config);
  if (parsed.type === 'memory') return 'memory:';
  if (parsed.type === 'file') return `file:${config.file.dir}`;
  const db = config.dynamodb;
  const where = new URLSearchParams(db.region ? { region: db.region } : {});
  if (db.endpoint !== undefined) where.set('endpoint', redactSpec(db.endpoint));
  const query = where.toString();
  return query === '' ? `dynamodb:${db.tableName}` : `dynamodb:${db.tableName}?${query}`;
}

/** Exposed for the CLI's help text. */
export const BACKEND_SPEC_PARAMETERS: Readonly<Record<BackendSpec['type'], readonly string[]>> = {
  memory: Object.keys(PARAMETERS.memory),
  file: Object.keys(PARAMETERS.file),
  dynamodb: Object.keys(PARAMETERS.dynamodb),
};
