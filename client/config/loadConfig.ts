import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors';
import { defaultKeyProviders } from '../keys/createKeyProviders';
import { keyProviderConfigWarnings } from '../keys/providerRegistry';
import { defaultCacheDir, regionFromEnv } from './platformDefaults';
import { isSecretPath, jsonSyntaxLocation, redactConfigValue, redactText, REDACTED } from './redact';
import { backendRegistry } from '../backends/registry';
import { AdvancedCacheConfig, type CacheConfigInput } from './schema';

export { isSecretPath } from './redact';

/** Where a value came from, lowest precedence first. */
export type ConfigSource = 'default' | `file:${string}` | `env:${string}` | 'options';

export interface LoadConfigOptions {
  /** Explicit options: the highest precedence. */
  readonly options?: CacheConfigInput;
  /** Config file; else `CACHEVAULT_CONFIG`, else `./cachevault.config.json` if present. */
  readonly file?: string;
  /** Environment to read `CACHEVAULT_*` from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Directory the default config file is looked for in. @default process.cwd() */
  readonly cwd?: string;
}

export interface LoadedConfig {
  readonly config: AdvancedCacheConfig;
  /** Source of every leaf that did not come from defaults, by dotted path. */
  readonly sources: ReadonlyMap<string, ConfigSource>;
  readonly file: string | undefined;
  /** Deprecations and insecure settings, already worded for a human. */
  readonly warnings: readonly string[];
}

export const DEFAULT_CONFIG_FILE = 'cachevault.config.json';

type Leaf = { path: string; kind: 'string' | 'number' | 'boolean' | 'array' | 'nullable-number' };

/** Every leaf field of the schema with the kind its env variable is parsed as. */
export function configLeaves(): Leaf[] {
  const out: Leaf[] = [];
  walk(AdvancedCacheConfig, '', out);
  return out;
}

function unwrap(schema: z.ZodType): { inner: z.ZodType; nullable: boolean } {
  let inner = schema;
  let nullable = false;
  for (;;) {
    if (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) {
      if (inner instanceof z.ZodNullable) nullable = true;
      inner = inner.unwrap() as z.ZodType;
    } else return { inner, nullable };
  }
}

function walk(schema: z.ZodType, prefix: string, out: Leaf[]): void {
  const { inner, nullable } = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    for (const [name, child] of Object.entries(inner.shape as Record<string, z.ZodType>)) {
      walk(child, prefix ? `${prefix}.${name}` : name, out);
    }
    return;
  }
  const kind: Leaf['kind'] =
    inner instanceof z.ZodNumber ? (nullable ? 'nullable-number' : 'number')
    : inner instanceof z.ZodBoolean ? 'boolean'
    : inner instanceof z.ZodArray ? 'array'
    : 'string';
  out.push({ path: prefix, kind });
}

/** `file.maxBytes` -> `CACHEVAULT_FILE_MAX_BYTES`. */
export function envVarName(path: string): string {
  return `CACHEVAULT_${path.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase()}`;
}

/** Old option names that keep working, with one warning each. */
const DEPRECATIONS: readonly { from: string; to: string; convert?: (v: unknown) => unknown }[] = [
  { from: 'backendType', to: 'backend' },
  { from: 'ttl', to: 'defaultTtlMs', convert: (v) => (typeof v === 'number' ? v * 1000 : v) },
  { from: 'file.path', to: 'file.dir' },
  { from: 'dynamodb.table', to: 'dynamodb.tableName' },
];

/** Loads defaults < file < environment < options, validates, and reports every bad field. */
export function loadConfig(input: LoadConfigOptions = {}): LoadedConfig {
  const env = input.env ?? process.env;
  const warnings: string[] = [];
  const sources = new Map<string, ConfigSource>();
  let merged: Record<string, unknown> = {};

  const file = resolveConfigFile(input, env);
  if (file !== undefined) {
    const fromFile = deprecate(readConfigFile(file), `file ${file}`, warnings);
    merged = mergeTracked(merged, fromFile, `file:${file}`, sources);
  }
  merged = mergeTracked(merged, readEnv(env), undefined, sources);
  if (input.options) {
    const fromOptions = deprecate(structuredClone(input.options) as Record<string, unknown>, 'options', warnings);
    merged = mergeTracked(merged, fromOptions, 'options', sources);
  }

  merged = withEnvironmentDefaults(merged, env);
  const parsed = AdvancedCacheConfig.safeParse(merged);
  if (!parsed.success) {
    const issues: ConfigIssue[] = parsed.error.issues.map((issue) => {
      const path = issue.path.join('.');
      const raw = getPath(merged, issue.path.map(String));
      return {
        path: path || '(root)',
        value: isSecretPath(path) ? REDACTED : raw === undefined ? '(missing)' : describeValue(path, raw),
        expected: issue.message,
        source: sources.get(path) ?? sourceOfParent(path, sources) ?? 'default',
      };
    });
    const lines = issues.map((i) => `  - ${i.path} = ${i.value} (from ${i.source}): ${i.expected}`).join('\n');
    throw new ConfigError(`Invalid cachevault configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines}`, issues, {
      hint: 'Fix the fields above; `cachevault config validate` checks a file without starting anything. docs/configuration.md lists every option.',
    });
  }
  warnings.push(...insecureSettings(parsed.data, sources, env));
  return { config: parsed.data, sources, file, warnings };
}

/**
 * A bad value as shown in a ConfigError. An object (an issue on a section, e.g. an unknown
 * field) is shown by its field names only: its values may include a secret under a name the
 * redaction does not know, such as a misspelled field. Anything else goes through the one
 * redaction (config/redact.ts) before it is shortened: a key pasted into the wrong field is
 * shown as `[redacted]`, never in part.
 */
function describeValue(path: string, raw: unknown): string {
  if (isPlainObject(raw)) return `{ ${Object.keys(raw).map(redactText).join(', ')} }`.slice(0, 120);
  const shown = JSON.stringify(redactConfigValue(path, raw)) ?? String(raw);
  return shown.length > 120 ? `${shown.slice(0, 117)}...` : shown;
}

function resolveConfigFile(input: LoadConfigOptions, env: NodeJS.ProcessEnv): string | undefined {
  const explicit = input.file ?? env.CACHEVAULT_CONFIG;
  if (explicit !== undefined && explicit !== '') {
    const path = resolve(input.cwd ?? process.cwd(), explicit);
    if (!existsSync(path)) {
      throw new ConfigError(`Config file ${path} does not exist.`, [{ path: '(file)', value: path, expected: 'an existing JSON file' }], {
        hint: 'Check the path given with --config or CACHEVAULT_CONFIG.',
      });
    }
    return path;
  }
  const fallback = resolve(input.cwd ?? process.cwd(), DEFAULT_CONFIG_FILE);
  return existsSync(fallback) ? fallback : undefined;
}

export function readConfigFile(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error, which may be part of a key: only
    // the position is reported, and the SyntaxError is not kept as the cause (--verbose prints causes).
    const { line, column } = jsonSyntaxLocation(text);
    throw new ConfigError(`Config file ${path} is not valid JSON (syntax error at line ${line}, column ${column}).`, [{ path: '(file)', value: path, expected: `valid JSON (error at line ${line}, column ${column})` }], {
      hint: 'Fix the JSON syntax at that position (a trailing comma or a missing quote is the usual cause).',
      context: { line, column },
    });
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`Config file ${path} must hold a JSON object.`, [{ path: '(root)', value: typeof data, expected: 'a JSON object' }]);
  }
  return data as Record<string, unknown>;
}

function readEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const leaf of configLeaves()) {
    const name = envVarName(leaf.path);
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(out, leaf.path.split('.'), { __env: name, value: coerce(raw, leaf.kind) });
  }
  return out;
}

function coerce(raw: string, kind: Leaf['kind']): unknown {
  switch (kind) {
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
    case 'nullable-number':
      return raw.trim() === 'null' ? null : /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
    case 'boolean':
      return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
    case 'array':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    default:
      return raw;
  }
}

function deprecate(data: Record<string, unknown>, where: string, warnings: string[]): Record<string, unknown> {
  for (const { from, to, convert } of DEPRECATIONS) {
    const path = from.split('.');
    const value = getPath(data, path);
    if (value === undefined) continue;
    deletePath(data, path);
    if (getPath(data, to.split('.')) === undefined) setPath(data, to.split('.'), convert ? convert(value) : value);
    warnings.push(`"${from}" (in ${where}) is deprecated; use "${to}" instead.`);
  }
  return data;
}

/**
 * Defaults that depend on where the app runs, filled in only where no source set a value: the
 * file tier under the platform cache directory (temp dir on Lambda), and the region from
 * AWS_REGION / AWS_DEFAULT_REGION (left unset otherwise, so the AWS SDK resolves it from the
 * profile or instance metadata), and a hybrid's DynamoDB tier when a table or endpoint is named.
 * Their source stays `default`.
 */
function withEnvironmentDefaults(merged: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = { ...merged };
  const file = isPlainObject(out.file) ? { ...out.file } : out.file === undefined ? {} : undefined;
  if (file && file.dir === undefined) out.file = { ...file, dir: defaultCacheDir(env) };
  const region = regionFromEnv(env);
  const dynamodb = isPlainObject(out.dynamodb) ? { ...out.dynamodb } : out.dynamodb === undefined ? {} : undefined;
  if (region && dynamodb && dynamodb.region === undefined) out.dynamodb = { ...dynamodb, region };
  // A hybrid gets its shared tier only when a table or endpoint is named: `{}` stays on this
  // machine, and naming a table is asking for it.
  const hybrid = isPlainObject(out.hybrid) ? out.hybrid : out.hybrid === undefined ? {} : undefined;
  if (hybrid && hybrid.tiers === undefined && dynamodb && (dynamodb.tableName !== undefined || dynamodb.endpoint !== undefined)) {
    out.hybrid = { ...hybrid, tiers: ['memory', 'file', 'dynamodb'] };
  }
  const keys = isPlainObject(out.keys) ? { ...out.keys } : out.keys === undefined ? {} : undefined;
  if (keys && keys.providers === undefined) {
    out.keys = { ...keys, providers: defaultKeyProviders(keys, env) };
  }
  return out;
}

function insecureSettings(config: AdvancedCacheConfig, sources: ReadonlyMap<string, ConfigSource>, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  const shared = backendRegistry.usesSharedTier(config);
  if (!config.encryption.enabled && shared) {
    out.push('Encryption is disabled on a shared backend (DynamoDB): anyone who can read the table can read cached values.');
  }
  if (config.encryption.enabled) {
    out.push(...keyProviderConfigWarnings(config.keys, { explicit: sources.has('keys.providers'), env }).map((w) => w.message));
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !('__env' in v);
}

/** Keys that would reach an object's prototype if merged like any other. */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Deep merge that records, per leaf, which source set it. Env leaves carry their variable name. */
function mergeTracked(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
  source: ConfigSource | undefined,
  sources: Map<string, ConfigSource>,
  prefix = '',
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const path = prefix ? `${prefix}.${k}` : k;
    // JSON.parse makes `__proto__` an own key; assigned here it would become the section's
    // prototype, and the strict schema would read fields through it that nobody wrote down.
    if (PROTOTYPE_KEYS.has(k)) {
      throw new ConfigError(`Invalid cachevault configuration: the key "${k}" at ${path} is not a configuration field (it names an object prototype).`, [
        { path, value: '(object)', expected: 'no __proto__, constructor or prototype keys' },
      ], { hint: `Remove "${k}" from the config file or options.` });
    }
    if (isPlainObject(v) && isPlainObject(out[k])) {
      out[k] = mergeTracked(out[k] as Record<string, unknown>, v, source, sources, path);
    } else if (v !== null && typeof v === 'object' && '__env' in v) {
      const tagged = v as { __env: string; value: unknown };
      out[k] = tagged.value;
      sources.set(path, `env:${tagged.__env}`);
    } else {
      out[k] = isPlainObject(v) ? mergeTracked({}, v, source, sources, path) : v;
      if (source && !isPlainObject(v)) sources.set(path, source);
    }
  }
  return out;
}

function sourceOfParent(path: string, sources: ReadonlyMap<string, ConfigSource>): ConfigSource | undefined {
  for (const [p, s] of sources) if (p.startsWith(`${path}.`) || path.startsWith(`${p}.`)) return s;
  return undefined;
}

function getPath(obj: unknown, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    if (!isPlainObject(cur[p])) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

function deletePath(obj: Record<string, unknown>, path: readonly string[]): void {
  const parent = getPath(obj, path.slice(0, -1));
  if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[path[path.length - 1]!];
}
