/**
 * Health of the key path, as the steps of a health report: can the active data key be had (and
 * through which provider), does a canary survive a seal/open round trip through the configured
 * encryption, and are the key versions within the rotation policy. Used by the `health` Lambda
 * and `cachevault health`, so both judge the keys the same way.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { describeError } from '../describeError';
import type { AdvancedCacheConfig } from '../config/schema';
import type { EncryptionProvider } from '../crypto/encryptionProvider';
import type { KeyManager, KeyManagerStatus } from '../keys/keyManager';
import type { KeyProvider } from '../keys/keyProvider';
import { isRemoteProvider, type KeyProviderName } from '../keys/providerRegistry';
import { KeyState } from '../keys/keyManifest';
import type { HealthCheckStep } from '../types';

/** What the key checks need of an opened cache (a `CacheVault` is one). */
export interface KeyHealthTarget {
  readonly keys: KeyManager | undefined;
  /**
   * The provider chain, probed actively: a provider the key manager has not called lately (its
   * data key is cached) would otherwise count as up while its service refuses connections.
   */
  readonly keyProviders?: readonly KeyProvider[];
  readonly encryption: EncryptionProvider;
  readonly config: {
    readonly encryption: Pick<AdvancedCacheConfig['encryption'], 'enabled'>;
    readonly keys: Pick<AdvancedCacheConfig['keys'], 'providers' | 'maxKeyAgeDays'>;
  };
}

export interface KeyHealthOptions {
  /** @default Date.now */
  readonly clock?: () => number;
}

/** Step names, stable for dashboards (the health Lambda publishes a latency metric per step). */
export const KeyHealthStep = {
  active: 'keys.active',
  providers: 'keys.providers',
  roundTrip: 'keys.roundTrip',
  age: 'keys.age',
} as const;

/** The canary's namespace: never a real entry's, and nothing is stored under it. */
const CANARY_NAMESPACE = '__health__';

async function timed(name: string, check: () => Promise<string | { problem: string } | undefined>): Promise<HealthCheckStep> {
  const t0 = performance.now();
  try {
    const outcome = await check();
    const latencyMs = performance.now() - t0;
    if (typeof outcome === 'object') return { name, ok: false, latencyMs, detail: outcome.problem };
    return { name, ok: true, latencyMs, detail: outcome };
  } catch (error) {
    return { name, ok: false, latencyMs: performance.now() - t0, detail: describeError(error) };
  }
}

/**
 * Runs the key checks. Never throws: a failure is a step with `ok: false` and a detail saying
 * what is wrong and what to do. With encryption disabled there is one passing step saying so.
 */
export async function checkKeys(target: KeyHealthTarget, options: KeyHealthOptions = {}): Promise<HealthCheckStep[]> {
  const { keys, encryption, config } = target;
  if (!config.encryption.enabled || keys === undefined) {
    return [{ name: KeyHealthStep.active, ok: true, detail: 'encryption is disabled: entries are stored unencrypted and no key is used' }];
  }
  const clock = options.clock ?? Date.now;
  if (keys.readOnly && keys.status().versions.length === 0) {
    // A read-only check must not create the first key: say so, and check the providers could.
    const probes = await keys.probeProviders();
    const usable = probes.filter((p) => p.ok).map((p) => p.provider);
    const broken = probes.filter((p) => !p.ok).map((p) => `${p.provider}: ${p.reason ?? 'unavailable'}`);
    if (usable.length === 0) {
      const detail = `no key version yet, and no provider could create one: ${broken.join('; ')}`;
      return [
        { name: KeyHealthStep.active, ok: false, detail },
        { name: KeyHealthStep.providers, ok: false, detail },
      ];
    }
    return [
      { name: KeyHealthStep.active, ok: true, detail: 'no key version yet: the first write creates k1' },
      { name: KeyHealthStep.providers, ok: broken.length === 0, detail: broken.length === 0 ? `all up: ${usable.join(', ')}` : `${broken.join('; ')}; keys would come from ${usable.join(', ')}` },
    ];
  }
  const fallbacksBefore = keys.stats().fallbacks;
  const steps: HealthCheckStep[] = [];
  steps.push(await timed(KeyHealthStep.active, () => activeKeyCheck(keys, config.keys.providers)));
  const status = await withProbes(keys.status(), target.keyProviders);
  steps.push(providersStep(status, keys.stats().fallbacks - fallbacksBefore));
  steps.push(await timed(KeyHealthStep.roundTrip, () => roundTrip(encryption, keys, clock)));
  steps.push(ageStep(status, config.keys.maxKeyAgeDays));
  return steps;
}

/** Obtains the active key and says which version and provider it came through. */
async function activeKeyCheck(keys: KeyManager, configured: readonly KeyProviderName[]): Promise<string | { problem: string }> {
  const key = await keys.activeKey();
  const status = keys.status();
  const version = status.versions.find((v) => v.id === key.id);
  if (version?.ephemeral) {
    return {
      problem: `the shared active key could not be unwrapped, so this process seals under its own fallback key ${key.id}, which no other process can read: restore access to ${downProviders(status) || 'the key providers'}`,
    };
  }
  const remote = configured.filter(isRemoteProvider).join(', ');
  if (version?.localOnly && remote) {
    return {
      problem: `active key ${key.id} is wrapped only by a local provider (${remote} was unavailable when it was created), so other machines cannot read entries sealed under it: run \`cachevault encryption rotate\` once ${remote} is reachable`,
    };
  }
  // The chain unwraps with the first configured provider that holds a wrapping and is not down.
  const via = status.providers.find((p) => !p.down && version?.wrappedBy.includes(p.provider))?.provider;
  return `active key ${key.id}${via ? ` via ${via}` : ''}`;
}

function downProviders(status: KeyManagerStatus): string {
  return status.providers
    .filter((p) => p.down)
    .map((p) => p.provider)
    .join(', ');
}

/** The status with every provider that fails a probe now marked down, with the probe's reason. */
async function withProbes(status: KeyManagerStatus, providers: readonly KeyProvider[] | undefined): Promise<KeyManagerStatus> {
  if (!providers || providers.length === 0) return status;
  const probed = await Promise.all(
    providers.map(async (p) => [p.name, await p.probe().catch((err: unknown) => ({ ok: false as const, reason: describeError(err) }))] as const),
  );
  return {
    ...status,
    providers: status.providers.map((health) => {
      const result = probed.find(([name]) => name === health.provider)?.[1];
      return result && !result.ok && !health.down ? { ...health, down: true, reason: result.reason } : health;
    }),
  };
}

/** Any configured provider with an outage means the chain is running on a fallback. */
function providersStep(status: KeyManagerStatus, fallbacksDuringCheck: number): HealthCheckStep {
  const down = status.providers.filter((p) => p.down);
  const names = status.providers.map((p) => p.provider).join(', ');
  if (down.length === 0) return { name: KeyHealthStep.providers, ok: true, detail: `all up: ${names}` };
  const reasons = down.map((p) => `${p.provider} is down (${p.reason ?? 'unavailable'})`).join('; ');
  const up = status.providers.filter((p) => !p.down).map((p) => p.provider);
  const fallback = up.length > 0 ? `; keys come from ${up.join(', ')} instead${fallbacksDuringCheck > 0 ? ' (fell back during this check)' : ''}` : '; no provider is left';
  return { name: KeyHealthStep.providers, ok: false, detail: `${reasons}${fallback}: restore access (credentials, network, key policy) so the preferred provider is used again` };
}

/** A random canary sealed and opened again through the cache's own encryption; nothing is stored. */
async function roundTrip(encryption: EncryptionProvider, keys: KeyManager, clock: () => number): Promise<string | { problem: string }> {
  const identity = { namespace: CANARY_NAMESPACE, key: `keys-${randomUUID()}`, expiresAt: clock() + 60_000 };
  const canary = randomBytes(32);
  const sealed = await encryption.seal(canary, identity);
  if (sealed.keyId === 'none') return { problem: 'encryption is enabled but the canary was sealed unencrypted: check encryption.algorithm in the configuration' };
  const opened = Buffer.from(await encryption.open(sealed.bytes, identity));
  // Named by version (`k1`), as status lists it, not by the `k1:<manifest id>` the envelope carries.
  const owner = keys.ownerOf(sealed.keyId);
  const shown = owner.kind === 'own' ? owner.versionId : sealed.keyId;
  if (opened.length !== canary.length || !timingSafeEqual(opened, canary)) return { problem: `the canary sealed under ${shown} did not open to the same bytes` };
  if (keys.isLocalOnly(sealed.keyId)) return `sealed and opened under ${shown} (local-only key)`;
  return `sealed and opened under ${shown} with ${encryption.algorithm}`;
}

/** Versions still in use (active or decrypt-only) older than `keys.maxKeyAgeDays`. */
function ageStep(status: KeyManagerStatus, maxKeyAgeDays: number): HealthCheckStep {
  const inUse = status.versions.filter((v) => v.state !== KeyState.retired && !v.ephemeral);
  const overAge = inUse.filter((v) => v.ageDays > maxKeyAgeDays);
  if (overAge.length === 0) {
    const oldest = Math.max(0, ...inUse.map((v) => v.ageDays));
    return { name: KeyHealthStep.age, ok: true, detail: `${inUse.length} version(s) in use, oldest ${oldest} day(s), policy ${maxKeyAgeDays} days` };
  }
  const problems = overAge.map((v) =>
    v.state === KeyState.active
      ? `active key ${v.id} is ${v.ageDays} days old: run \`cachevault encryption rotate\``
      : `${v.state} key ${v.id} is ${v.ageDays} days old: re-encrypt its entries (\`cachevault encryption rotate\`) and run \`cachevault keys retire ${v.id}\``,
  );
  return { name: KeyHealthStep.age, ok: false, detail: `beyond the ${maxKeyAgeDays}-day rotation policy: ${problems.join('; ')}` };
}
