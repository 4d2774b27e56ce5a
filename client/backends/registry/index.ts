/**
 * The backend registry: every backend type cachevault can start from a configuration, with what
 * it declares (types.ts). The config schema's `backend`, `fallback` and `hybrid.tiers` enums and
 * sections, the factory, the migration spec parser, the CLI's tier list and the migration
 * planner are derived from it; nothing else compares a backend's name to a literal (checked by
 * test/unit/backendNamesOnlyInRegistry.test.ts).
 *
 * Adding a backend type: write its definition (one file beside these, see memory.ts) and add it
 * to the list below. docs/backends.md, "Adding a backend", has the steps.
 *
 * This module loads no backend, SDK or zod: the definitions are plain objects whose `create`
 * requires what it starts.
 */
import { resolve } from 'node:path';
import { sectionOf } from './configSection';
import { dynamodbBackendDefinition } from './dynamodb';
import { fileBackendDefinition } from './file';
import { hybridBackendDefinition } from './hybrid';
import { memoryBackendDefinition } from './memory';
import type { AnyBackendDefinition, BackendDefinition } from './types';

export interface BackendRegistry<Definitions extends readonly AnyBackendDefinition[] = readonly AnyBackendDefinition[]> {
  /** In config order: the sections of the config schema follow it. */
  readonly definitions: Definitions;
  /** Every type name, for the `backend` and `fallback` enums. */
  readonly names: readonly [Definitions[number]['type'], ...Definitions[number]['type'][]];
  /** The types a hybrid may name as tiers. */
  readonly tierNames: readonly Definitions[number]['type'][];
  /** The types a migration spec may name. */
  readonly specNames: readonly Definitions[number]['type'][];
  /** The definition of `type`, or undefined for a name nobody registered. */
  get(type: string): AnyBackendDefinition | undefined;
  /** The definition of a type the config schema accepted (throws for an unregistered name). */
  definition(type: string): AnyBackendDefinition;
  /** The storage tiers a configuration uses: a composite's tiers, or the backend itself. */
  configuredTiers(config: ConfigWithBackend): string[];
  /**
   * Whether a configuration uses the backend `type`, alone or as a tier. For code that works
   * with that one backend's own features (the file tier's prune, the DynamoDB table's status):
   * asking by a typed name here is not a dispatch a new backend would have to join.
   */
  uses(config: ConfigWithBackend, type: Definitions[number]['type']): boolean;
  /** Whether `type` is a composite of tiers (the hybrid) rather than a store. */
  isComposite(type: string): boolean;
  /** The local directories (resolved against `cwd`) of the tiers a configuration uses. */
  localPaths(config: ConfigWithBackend, cwd: string): string[];
  /** Whether a configuration stores entries where other machines see them. */
  usesSharedTier(config: ConfigWithBackend): boolean;
}

/** What the registry reads of a config: the backend's name and the sections by type name. */
export type ConfigWithBackend = { readonly backend: string };

/**
 * A registry over `storage` (the backend types that hold entries themselves), plus the hybrid
 * composite over those of them that can be tiers. Tests build one with an extra type to prove
 * that a backend plugs in through its definition alone (test/unit/registryAddBackend.test.ts).
 */
export function createBackendRegistry<const Storage extends readonly AnyBackendDefinition[]>(
  storage: Storage,
  options: { readonly defaultHybridTiers: readonly Storage[number]['type'][] },
): RegistryOver<Storage> {
  const hybrid = hybridBackendDefinition(storage, options.defaultHybridTiers);
  const definitions = [...storage, hybrid] as const;
  const byName = new Map<string, AnyBackendDefinition>();
  for (const d of definitions) {
    if (byName.has(d.type)) throw new TypeError(`backend type ${JSON.stringify(d.type)} is registered twice`);
    if (!/^[a-z][a-z0-9]*$/.test(d.type)) throw new TypeError(`backend type ${JSON.stringify(d.type)} must be lower-case letters and digits (it is a config key and a spec scheme)`);
    byName.set(d.type, d);
  }
  const definition = (type: string): AnyBackendDefinition => {
    const d = byName.get(type);
    if (d === undefined) throw new TypeError(`no backend type ${JSON.stringify(type)} is registered (known: ${[...byName.keys()].join(', ')})`);
    return d;
  };
  const configuredTiers = (config: ConfigWithBackend): string[] => {
    const d = definition(config.backend);
    return d.tiersOf ? [...d.tiersOf(sectionOf(config, d.type))] : [d.type];
  };
  const registry: BackendRegistry = {
    definitions,
    names: definitions.map((d) => d.type) as [string, ...string[]],
    tierNames: definitions.filter((d) => d.capabilities.hybridTier).map((d) => d.type),
    specNames: definitions.filter((d) => d.spec !== undefined).map((d) => d.type),
    get: (type) => byName.get(type),
    definition,
    configuredTiers,
    uses: (config, type) => configuredTiers(config).includes(type),
    isComposite: (type) => definition(type).tiersOf !== undefined,
    localPaths: (config, cwd) =>
      configuredTiers(config).flatMap((t) => {
        const path = definition(t).localPath?.(sectionOf(config, t));
        return path === undefined ? [] : [resolve(cwd, path)];
      }),
    usesSharedTier: (config) => configuredTiers(config).some((t) => definition(t).capabilities.shared),
  };
  return registry as RegistryOver<Storage>;
}

/** The registry `createBackendRegistry(storage)` returns: `storage`, then the hybrid over it. */
export type RegistryOver<Storage extends readonly AnyBackendDefinition[]> = BackendRegistry<
  readonly [...Storage, ReturnType<typeof hybridBackendDefinition<Storage>>]
>;

/** The built-in backend types, one line each, in config order. */
export const backendRegistry = createBackendRegistry(
  [
    memoryBackendDefinition,
    fileBackendDefinition,
    dynamodbBackendDefinition,
  ],
  // `{}` stays on this machine: the shared tier is added by naming it.
  { defaultHybridTiers: ['memory', 'file'] },
);

export type { AnyBackendDefinition, BackendDefinition };
export type {
  BackendCreateContext,
  BackendFactoryDeps,
  BackendSpecDefinition,
  BackendTypeCapabilities,
  SpecParameterKind,
  StartedBackend,
  ZodApi,
} from './types';
