/**
 * `config set`: turns `KEY VALUE` from the command line into a typed value, puts it in the
 * config file, validates the whole file against the schema, and only then replaces the file
 * (temp file + rename, so a reader never sees it half-written).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors';
import { writeFileAtomicSync } from '../fs/atomicWrite';
import { configLeaves, DEFAULT_CONFIG_FILE, readConfigFile } from '../config/loadConfig';
import { redactConfigValue } from '../config/redact';
import { AdvancedCacheConfig } from '../config/schema';
import { UsageError } from './errors';

type LeafKind = ReturnType<typeof configLeaves>[number]['kind'];

/** The file `config set` writes: `--config`, else $CACHEVAULT_CONFIG, else ./cachevault.config.json. */
export function configFileTarget(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  const chosen = explicit ?? (env.CACHEVAULT_CONFIG !== undefined && env.CACHEVAULT_CONFIG !== '' ? env.CACHEVAULT_CONFIG : DEFAULT_CONFIG_FILE);
  return resolve(cwd, chosen);
}

/** Parses a command-line value as the kind of field it is going into (`checkOnly`: only that the key exists). */
export function parseConfigValue(path: string, raw: string, options: { checkOnly?: boolean } = {}): unknown {
  const leaf = configLeaves().find((l) => l.path === path);
  if (!leaf) {
    const near = configLeaves()
      .map((l) => l.path)
      .filter((p) => p.toLowerCase().includes(path.split('.').pop()!.toLowerCase()))
      .slice(0, 5);
    throw new UsageError(`Unknown config key "${path}".`, {
      hint: near.length > 0 ? `Did you mean ${near.map((n) => `"${n}"`).join(', ')}? docs/configuration.md lists every key.` : 'docs/configuration.md lists every key (dotted paths such as file.maxBytes).',
    });
  }
  return options.checkOnly ? undefined : coerce(path, leaf.kind, raw);
}

function coerce(path: string, kind: LeafKind, raw: string): unknown {
  const trimmed = raw.trim();
  switch (kind) {
    case 'number':
    case 'nullable-number':
      if (kind === 'nullable-number' && trimmed === 'null') return null;
      if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
      throw new UsageError(`${path} takes a number${kind === 'nullable-number' ? ' or null' : ''}, got ${shown(path, raw)}.`);
    case 'boolean':
      if (trimmed === 'true' || trimmed === 'false') return trimmed === 'true';
      throw new UsageError(`${path} takes true or false, got ${shown(path, raw)}.`);
    case 'array':
      if (trimmed.startsWith('[')) {
        try {
          return JSON.parse(trimmed) as unknown;
        } catch {
          throw new UsageError(`${path} takes a JSON array or a comma-separated list, got ${shown(path, raw)}.`);
        }
      }
      return trimmed.split(',').map((s) => s.trim()).filter(Boolean);
    default:
      return raw;
  }
}

/** A command-line value as an error may quote it: redacted (a key typed into the wrong field). */
function shown(path: string, raw: string): string {
  return JSON.stringify(redactConfigValue(path, raw));
}

/** What `path` holds in the config file now; undefined when the file or the key is absent. */
export function readConfigValue(file: string, path: string): unknown {
  if (!existsSync(file)) return undefined;
  let cur: unknown = readConfigFile(file);
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** Sets `path` in the file's JSON, validates the result, then atomically replaces the file. */
export function writeConfigValue(file: string, path: string, value: unknown): { created: boolean } {
  const created = !existsSync(file);
  const data = created ? {} : readConfigFile(file);
  const parts = path.split('.');
  let cur: Record<string, unknown> = data;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
  validateAndWrite(file, data, path, value);
  return { created };
}

/** Removes `path` from the file (and sections it leaves empty); false when it was not there. */
export function removeConfigValue(file: string, path: string): { removed: boolean } {
  if (!existsSync(file)) return { removed: false };
  const data = readConfigFile(file);
  const parts = path.split('.');
  const parents: Record<string, unknown>[] = [data];
  for (const p of parts.slice(0, -1)) {
    const next = parents[parents.length - 1]![p];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) return { removed: false };
    parents.push(next as Record<string, unknown>);
  }
  const last = parts[parts.length - 1]!;
  if (!(last in parents[parents.length - 1]!)) return { removed: false };
  delete parents[parents.length - 1]![last];
  for (let i = parents.length - 1; i > 0; i--) {
    if (Object.keys(parents[i]!).length > 0) break;
    delete parents[i - 1]![parts[i - 1]!];
  }
  validateAndWrite(file, data, path, undefined);
  return { removed: true };
}

function validateAndWrite(file: string, data: Record<string, unknown>, path: string, value: unknown): void {
  const parsed = AdvancedCacheConfig.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', value: JSON.stringify(redactConfigValue(path, value)) ?? '(removed)', expected: i.message, source: `file:${file}` }));
    throw new ConfigError(
      `Refusing to write ${file}: ${issues.map((i) => `${i.path}: ${i.expected}`).join('; ')}.`,
      issues,
      { hint: 'The file was left unchanged. docs/configuration.md lists each key with its allowed values.' },
    );
  }
  writeFileAtomicSync(file, `${JSON.stringify(data, null, 2)}\n`);
}
