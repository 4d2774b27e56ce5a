import type { HybridTierSpec } from '../hybridBackend';
import type { DynamoDBLease } from '../../dynamodb/dynamodbLease';
import { sectionOf } from './configSection';
import type { AnyBackendDefinition, BackendDefinition, ZodApi } from './types';

/** The `hybrid` section, over the registered types that can be tiers. */
function hybridConfig<Tier extends string>(z: ZodApi, tierNames: readonly [Tier, ...Tier[]], defaultTiers: readonly Tier[]) {
  const positiveInt = z.number().int().positive();
  return z.strictObject({
    /**
     * Tiers from fastest to shared. The default is local only: the DynamoDB tier is added by
     * naming it, so `{}` never reaches for AWS.
     */
    tiers: z.array(z.enum(tierNames)).min(1).default([...defaultTiers]),
    /** Cap on how long a local copy of a shared entry lives before it is re-read from DynamoDB. */
    localTtlCapMs: positiveInt.default(60_000),
    /** How long past the local cap a local copy may be served while DynamoDB is failing. */
    staleIfErrorMs: z.number().int().nonnegative().default(300_000),
    /** Timeout for one operation on one tier. */
    tierTimeoutMs: positiveInt.default(1_000),
    /** Consecutive failures that open the circuit breaker for the shared tier. */
    breakerFailureThreshold: positiveInt.default(5),
    /** How long the breaker stays open before a probe. */
    breakerResetMs: positiveInt.default(30_000),
    /** Throw on shared-tier outages instead of degrading to local tiers. */
    strict: z.boolean().default(false),
    /** Cross-instance stampede protection for `wrap` through a DynamoDB lease item. */
    lease: z.boolean().default(false),
    /** How long a wrap lease holds before others compute anyway. */
    leaseMs: positiveInt.default(10_000),
    /** Writes the shared tier missed, kept (newest per key) for replay; past this the oldest are dropped and counted. */
    maxPendingReplays: positiveInt.default(10_000),
    /** Keep the replay queue in the file tier so it survives a restart; `false` keeps it in memory only. */
    durableReplays: z.boolean().default(true),
    /**
     * Coherent local tiers across instances (docs/coherence.md): sets, deletes and clears are
     * published to an invalidation log in the shared tier, and every instance drops its local
     * copies of what others changed within about two windows. Only with a shared tier that can
     * carry the log (DynamoDB).
     */
    coherence: z
      .strictObject({
        /** Publish and apply invalidations across instances (with a DynamoDB tier). */
        enabled: z.boolean().default(true),
        /** How often an instance publishes what it changed and reads what others changed. */
        windowMs: positiveInt.min(20).max(10_000).default(200),
        /** How long records stay in the log; at least `localTtlCapMs` + 3 windows. */
        retentionMs: positiveInt.default(300_000),
        /** Partitions the log is spread over (see docs/coherence.md for the sizing rule). */
        shards: positiveInt.max(64).default(2),
      })
      .default({ enabled: true, windowMs: 200, retentionMs: 300_000, shards: 2 }),
  });
}

export type HybridConfigSection<Tier extends string> = ReturnType<typeof hybridConfig<Tier>>;

/**
 * The tiered backend (hybridBackend.ts) over the given tier-capable definitions: it starts each
 * named tier through its own definition, in order, and closes the started ones if a later one
 * fails. It is a composite, so it is not itself a tier and no migration spec names it (a hybrid
 * cache is migrated tier by tier).
 */
export function hybridBackendDefinition<const Definitions extends readonly AnyBackendDefinition[]>(
  tiers: Definitions,
  defaultTiers: readonly Definitions[number]['type'][],
): BackendDefinition<'hybrid', HybridConfigSection<Definitions[number]['type']>> {
  type Tier = Definitions[number]['type'];
  const tierDefinitions = tiers.filter((t) => t.capabilities.hybridTier);
  const tierNames = tierDefinitions.map((t) => t.type as Tier);
  if (tierNames.length === 0) throw new TypeError('a hybrid backend needs at least one backend type that can be a tier');
  const unknownDefault = defaultTiers.find((t) => !tierNames.includes(t));
  if (unknownDefault !== undefined) throw new TypeError(`the default hybrid tier ${JSON.stringify(unknownDefault)} is not a registered tier type`);
  const byName = new Map<string, AnyBackendDefinition>(tierDefinitions.map((t) => [t.type, t]));
  return {
    type: 'hybrid',
    configSection: (z) => hybridConfig(z, tierNames as [Tier, ...Tier[]], defaultTiers),
    // A composite: what it shares or keeps is its tiers' (tiersOf), so code asks them, not it.
    capabilities: { shared: false, persistent: false, hybridTier: false },
    tiersOf: (section) => section.tiers,
    async create({ section: h, config, deps }) {
      const built: HybridTierSpec[] = [];
      const warnings: string[] = [];
      let lease: DynamoDBLease | undefined;
      try {
        for (const name of h.tiers) {
          const definition = byName.get(name)!;
          const started = await definition.create({ section: sectionOf(config, name), config, deps, role: 'tier' });
          built.push({ name, backend: started.backend });
          lease = started.lease ?? lease;
          warnings.push(...started.warnings);
        }
      } catch (err) {
        await Promise.allSettled(built.map((t) => t.backend.close()));
        lease?.close();
        throw err;
      }
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { HybridBackend } = require('../hybridBackend') as typeof import('../hybridBackend');
      // The first tier that can carry the invalidation log carries it; a read-only open applies
      // no invalidations, since applying them deletes local copies.
      const logTier = h.coherence.enabled && !deps.readOnly ? h.tiers.map((name) => byName.get(name)!).find((d) => d.invalidationLog !== undefined) : undefined;
      const coherence = logTier === undefined ? undefined : { store: logTier.invalidationLog!(sectionOf(config, logTier.type), h.coherence), windowMs: h.coherence.windowMs, retentionMs: h.coherence.retentionMs };
      try {
        const backend = new HybridBackend({
          clock: deps.clock,
          logger: deps.logger,
          tiers: built,
          localTtlCapMs: h.localTtlCapMs,
          staleIfErrorMs: h.staleIfErrorMs,
          tierTimeoutMs: h.tierTimeoutMs,
          breakerFailureThreshold: h.breakerFailureThreshold,
          breakerResetMs: h.breakerResetMs,
          strict: h.strict,
          maxPendingReplays: h.maxPendingReplays,
          durableReplays: h.durableReplays,
          isLocalOnly: deps.isLocalOnly,
          coherence,
        });
        return { backend, lease, warnings };
      } catch (err) {
        coherence?.store.close();
        await Promise.allSettled(built.map((t) => t.backend.close()));
        lease?.close();
        throw err;
      }
    },
  };
}
