/**
 * What a backend type declares to the registry (client/backends/registry/index.ts). Everything
 * that used to switch on a backend's name (the config schema, the factory, the migration spec
 * parser, the CLI's tier list, the migration planner) reads these declarations instead.
 *
 * A definition module imports nothing heavy: no backend class, no SDK, not even zod. Its config
 * section is a function of the zod API, so the schema module (which loads zod anyway) builds it,
 * and `create` `require()`s the backend class when a configuration actually starts one. An app
 * on the memory backend therefore never loads SQLite or the AWS SDK, and importing the backend
 * factory costs no zod load.
 */
import type { z } from 'zod';
import type { AdvancedCacheConfig } from '../../config/schema';
import type { DynamoDBLease } from '../../dynamodb/dynamodbLease';
import type { Clock, Logger, StoredEntry } from '../../types';
import type { CacheBackend } from '../cacheBackend';
import type { InvalidationLogStore } from '../hybrid/invalidationLog';

/** The `hybrid.coherence` settings a log store is built for. */
export interface CoherenceSettings {
  readonly windowMs: number;
  readonly retentionMs: number;
  readonly shards: number;
}

/** The zod API a definition builds its config section with (`import { z } from 'zod'`). */
export type ZodApi = typeof z;

/** A backend's config section: a strict object whose every field has a default. */
export type ConfigSection = z.ZodObject;

export interface BackendFactoryDeps {
  /** @default Date.now */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /**
   * Entries that must stay off shared tiers (sealed under a key other machines cannot have);
   * passed to the hybrid backend.
   */
  readonly isLocalOnly?: (entry: StoredEntry) => boolean;
  /**
   * The caller wants exactly this backend (a migration source or target): a failure must not
   * suggest configuring a fallback, which would silently read or write somewhere else.
   */
  readonly exactBackend?: boolean;
  /**
   * The caller changes nothing (read-only commands): no coherence, whose applying of other
   * instances' invalidations would delete local copies.
   */
  readonly readOnly?: boolean;
}

/** What a definition's `create` returns; the factory adds the type name. */
export interface StartedBackend {
  readonly backend: CacheBackend;
  /** Cross-instance wrap lease (DynamoDB, with `hybrid.lease`); closed after the backend. */
  readonly lease?: DynamoDBLease;
  /** Things worth telling the user (the shared tier was unreachable at start-up, ...). */
  readonly warnings: readonly string[];
}

export interface BackendCreateContext<Section> {
  /** This backend's own section of the config (`config[type]`), validated and defaulted. */
  readonly section: Section;
  /** The whole config, for the few settings a backend shares with others (`hybrid.lease`). */
  readonly config: AdvancedCacheConfig;
  readonly deps: BackendFactoryDeps;
  /**
   * `backend`: the whole cache; it must answer now. `tier`: one tier of a hybrid, which may start
   * while a shared tier is unreachable (the hybrid's breaker probes it again).
   */
  readonly role: 'backend' | 'tier';
}

/** What code decides about a backend type before any instance exists. */
export interface BackendTypeCapabilities {
  /** Other machines see the same entries (DynamoDB). A shared backend never holds local-only entries. */
  readonly shared: boolean;
  /** Entries survive the process (not memory): backed up before upgrades, worth migrating. */
  readonly persistent: boolean;
  /** May be named in `hybrid.tiers`. */
  readonly hybridTier: boolean;
}

export type SpecParameterKind = 'int' | 'string' | 'boolean';

/**
 * How a backend is named in a migration spec (`type:location?param=value`, the CLI's `--from`
 * and `--to`). Values are validated afterwards by the config schema, so a spec accepts exactly
 * what the config file does.
 */
export interface BackendSpecDefinition<Section> {
  /** Examples for error messages and help, e.g. `file:./cache`. */
  readonly examples: readonly string[];
  /** Query parameters and how each is parsed; each sets the section field of the same name. */
  readonly parameters: Readonly<Record<string, SpecParameterKind>>;
  /**
   * The section fields the location (the part before `?`, %-decoded) sets, or why it is wrong
   * (`{ problem }`). `cwd` resolves relative paths, so a resumed run names the same cache.
   */
  fromLocation(location: string, cwd: string): Readonly<Record<string, unknown>> | { readonly problem: string };
  /**
   * What identifies where the data lives, for plan hashes, reports and printed commands: the
   * location and only the parameters that change it (region, endpoint), in a fixed order. Tuning
   * parameters are left out. `urlParameters` lists the parameters whose values are URLs that
   * callers must strip of credentials before printing.
   */
  identity(section: Section, cwd: string): { readonly location: string; readonly parameters: readonly (readonly [string, string])[] };
  readonly urlParameters?: readonly string[];
  /** Why a validated section must still be refused (an endpoint carrying credentials). */
  refuse?(section: Section): string | undefined;
}

/**
 * One backend type. Register it in client/backends/registry/index.ts; see docs/backends.md,
 * "Adding a backend".
 */
export interface BackendDefinition<Type extends string = string, Section extends ConfigSection = ConfigSection> {
  /** The name in `backend`, `fallback`, `hybrid.tiers`, specs, stats and logs. */
  readonly type: Type;
  /** Builds the config section `config[type]` (every field defaulted, so `{}` is valid). */
  configSection(zod: ZodApi): Section;
  readonly capabilities: BackendTypeCapabilities;
  /** Rough copy rate as a migration destination, for the dry run's time estimate. */
  readonly estimatedEntriesPerSecond?: number;
  /**
   * A composite backend's tiers, in order (the hybrid's `tiers`). Code that asks what a config
   * stores where (is anything shared? what must be backed up?) asks these, not the composite.
   */
  tiersOf?(section: z.output<Section>): readonly string[];
  /**
   * The local directory the backend keeps its data in, which opening it creates when absent.
   * Read-only commands check it exists before opening the cache, so they never create one.
   */
  localPath?(section: z.output<Section>): string;
  /** Present when a migration spec may name this backend. */
  readonly spec?: BackendSpecDefinition<z.output<Section>>;
  /**
   * A shared backend that can also carry the hybrid's invalidation log (docs/coherence.md):
   * builds the log's store over this backend's own section, for `hybrid.coherence`.
   */
  invalidationLog?(section: z.output<Section>, coherence: CoherenceSettings): InvalidationLogStore;
  /** Starts the backend. Heavy modules (SQLite, the AWS SDK) are `require()`d here, not at the top. */
  create(context: BackendCreateContext<z.output<Section>>): Promise<StartedBackend>;
}

/** Any definition, whatever its section (a registry holds several). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyBackendDefinition = BackendDefinition<string, any>;
