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
import { AdvancedCacheConfig } from '../config/schema';
import { UsageError } from './errors';

type LeafKind = ReturnType<typeof configLeaves>[number]['kind'];

/** The file `config set` writes: `--config`, else $CACHEVAULT_CONFIG, else ./cachevault.config.json. */
export function configFileTarget(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  const chosen = explicit ?? (env.CACHEVAULT_CONFIG !== undefined && env.CACHEVAULT_CONFIG !== '' ? env.CACHEVAULT_CONFIG : DEFAULT_CONFIG_FILE);
  return resolve(cwd, chosen);
}

/** Parses a command-line value as the kind of field it is going into. */
export function parseConfigValue(path: string, raw: string): unknown {
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
  return coerce(path, leaf.kind, raw);
}

function coerce(path: string, kind: LeafKind, raw: string): unknown {
  const trimmed = raw.trim();
  switch (kind) {
    case 'number':
    case 'nullable-number':
      if (kind === 'nullable-number' && trimmed === 'null') return null;
      if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
      throw new UsageError(`${path} takes a number${kind === 'nullable-number' ? ' or null' : ''}, got "${raw}".`);
    case 'boolean':
      if (trimmed === 'true' || trimmed === 'false') return trimmed === 'true';
      throw new UsageError(`${path} takes true or false, got "${raw}".`);
    case 'array':
      if (trimmed.startsWith('[')) {
        try {
          return JSON.parse(trimmed) as unknown;
        } catch {
          throw new UsageError(`${path} takes a JSON array or a comma-separated list, got "${raw}".`);
        }
      }
      return trimmed.split(',').map((s) => s.trim()).filter(Boolean);
    default:
      return raw;
  }
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
  const parsed = AdvancedCacheConfig.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', value: JSON.stringify(value), expected: i.message, source: `file:${file}` }));
    throw new ConfigError(
      `Refusing to write ${file}: ${issues.map((i) => `${i.path}: ${i.expected}`).join('; ')}.`,
      issues,
      { hint: 'The file was left unchanged. docs/configuration.md lists each key with its allowed values.' },
    );
  }
  writeFileAtomicSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return { created };
}
