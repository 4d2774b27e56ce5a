import { AdvancedCacheConfig, type BackendType, type CacheConfigInput } from '../config/schema';
import { backendRegistry, type BackendRegistry } from '../backends/registry';
import { sectionOf } from '../backends/registry/configSection';
import type { SpecParameterKind } from '../backends/registry/types';
import { BackendSpecError, redactSpec } from './errors';

/** What a spec names: a backend type and the config fields it sets. */
export interface BackendSpec {
  /** A registered type with a spec form (memory, file, dynamodb; a hybrid is migrated tier by tier). */
  readonly type: BackendType;
  /** Partial config to merge over the loaded config (`backend` plus that backend's section). */
  readonly config: CacheConfigInput;
}

export interface ParseSpecOptions {
  /** Relative file directories are resolved against this. @default process.cwd() */
  readonly cwd?: string;
  /** The backend types a spec may name, each with its spec form. @default the built-in registry */
  readonly registry?: BackendRegistry;
  /** Validates the config a spec produces. @default AdvancedCacheConfig */
  readonly schema?: { safeParse(input: unknown): { success: true; data: unknown } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } } };
}

/**
 * Parses a backend spec as the CLI takes it (`--from`, `--to`): `type:location?param=value`, each
 * registered backend type declaring its location and parameters (client/backends/registry):
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
  const registry = options.registry ?? backendRegistry;
  const known = registry.specNames;
  if (typeof spec !== 'string' || spec.trim() === '') throw new BackendSpecError(String(spec), 'it is empty');
  const colon = spec.indexOf(':');
  if (colon <= 0) throw new BackendSpecError(spec, `it does not start with a backend type (${known.map((t) => `${t}:`).join(', ')})`);
  const type = spec.slice(0, colon).toLowerCase();
  const definition = registry.get(type);
  const form = definition?.spec;
  if (definition === undefined || form === undefined) {
    const persistent = known.filter((t) => registry.definition(t).capabilities.persistent);
    const tiers = definition?.tiersOf ? `; a ${type} cache is migrated tier by tier (name the ${orList(persistent)} tier)` : '';
    throw new BackendSpecError(spec, `unknown backend type ${JSON.stringify(type)}; expected ${orList(known)}${tiers}`);
  }
  const rest = spec.slice(colon + 1);
  const q = rest.indexOf('?');
  let location: string;
  try {
    location = decodeURIComponent(q === -1 ? rest : rest.slice(0, q));
  } catch {
    throw new BackendSpecError(spec, 'the location has a malformed %-escape (write a literal % as %25)');
  }
  const params = parseParams(spec, type, form.parameters, q === -1 ? '' : rest.slice(q + 1));
  const located = form.fromLocation(location, options.cwd ?? process.cwd());
  if ('problem' in located && typeof located.problem === 'string') throw new BackendSpecError(spec, located.problem);
  const config = { backend: type, [type]: { ...params, ...located } } as CacheConfigInput;

  const checked = (options.schema ?? AdvancedCacheConfig).safeParse(config);
  if (!checked.success) {
    const problems = checked.error.issues.map((issue) => `${issue.path.slice(1).join('.') || issue.path.join('.')}: ${issue.message}`);
    throw new BackendSpecError(spec, problems.join('; '));
  }
  const refusal = form.refuse?.(sectionOf(checked.data as object, type));
  if (refusal !== undefined) throw new BackendSpecError(spec, refusal);
  return { type: type as BackendType, config };
}

function parseParams(spec: string, type: string, allowed: Readonly<Record<string, SpecParameterKind>>, query: string): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [name, raw] of new URLSearchParams(query)) {
    const kind = Object.hasOwn(allowed, name) ? allowed[name] : undefined;
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
  const checked = (options.schema ?? AdvancedCacheConfig).safeParse(parsed.config);
  if (!checked.success) throw new BackendSpecError(parsed.type, checked.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
  const described = formatSpec(parsed.type, checked.data as object, options.cwd ?? process.cwd(), redactSpec, options.registry);
  if (described === undefined) throw new BackendSpecError(parsed.type, `no spec names a ${parsed.type} backend`);
  return described;
}

/**
 * The spec naming where `type`'s section of `config` keeps its data (`file:/abs/dir`,
 * `dynamodb:TABLE?region=...`), with URL parameters passed through `redactUrl`; undefined for a
 * type no spec can name. Used for plan hashes and for commands printed to the user.
 */
export function formatSpec(type: string, config: object, cwd: string, redactUrl: (url: string) => string, registry: BackendRegistry = backendRegistry): string | undefined {
  const form = registry.get(type)?.spec;
  if (form === undefined) return undefined;
  const { location, parameters } = form.identity(sectionOf(config, type), cwd);
  const query = new URLSearchParams(parameters.map(([name, value]): [string, string] => [name, form.urlParameters?.includes(name) ? redactUrl(value) : value])).toString();
  return query === '' ? `${type}:${location}` : `${type}:${location}?${query}`;
}

function orList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** Exposed for the CLI's help text: each spec-able type's parameters. */
export const BACKEND_SPEC_PARAMETERS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  backendRegistry.definitions.flatMap((d) => (d.spec ? [[d.type, Object.keys(d.spec.parameters)]] : [])),
);
