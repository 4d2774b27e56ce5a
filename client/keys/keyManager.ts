import { inspect } from 'node:util';
import { AuditEvent, type AuditSink } from '../audit/auditLog';
import { SingleFlight } from '../core/singleFlight';
import { ForeignManifestError, KeyUnavailableError } from '../errors';
import { silentLogger } from '../logger';
import { NO_EVENTS, combineSinks, type CacheEventSink, type CacheEventSource } from '../events/cacheEvents';
import type { Clock, Logger } from '../types';
import { DataKeyCache, type DataKeyCacheLimits } from './dataKeyCache';
import {
  KeyProviderFailure,
  KeyStateError,
  KmsKeyMismatchError,
  ManifestError,
  ManifestIntegrityError,
  ManifestIntegrityFailure,
  NoKeyProviderError,
  RootKeyMismatchError,
  isOutageFailure,
} from './errors';
import { keyCheckValue, verifyKeyCheck } from './keyCheck';
import { acceptedManifestIds, keyIdOwner, manifestId, qualifyKeyId, type KeyIdOwner } from './keyIds';
import { exportKeyBackup, importKeyBackup, type KeyBackupHost, type OpenBackupOptions, type SealBackupOptions } from './keyBackup';
import {
  KeyState,
  activeVersion,
  emptyManifest,
  findVersion,
  isVersionId,
  nextVersionId,
  withAuditHead,
  withNewActive,
  withRetired,
  type AuditHead,
  type KeyManifest,
  type KeyVersionRecord,
} from './keyManifest';
import { isLocalRootKeyProvider, isRewrappableKeyProvider, type LocalRootKeyProvider, type DataKey, type DataKeySource, type KeyContext, type KeyProvider, type KeyProviderName } from './keyProvider';
import { KeyProviderChain, isLocalProvider, type ProviderHealth } from './keyProviderChain';
import { KEY_PROVIDERS } from './providerRegistry';
import { checkLoadedManifest } from './manifestCheck';
import { LocalManifestSealer, sealManifest, type ManifestSealer } from './manifestSeal';
import { ProcessLocalKeys } from './processLocalKeys';
import type { ManifestStore } from './manifestStore';
import type { RevisionPin, RevisionPinStore } from './revisionPin';

export interface KeyManagerOptions {
  /** Key providers in order of preference (see `createKeyProviders`). */
  readonly providers: readonly KeyProvider[];
  readonly store: ManifestStore;
  /** Bound into every key's encryption context / wrapping AAD. */
  readonly app: string;
  readonly environment: string;
  /** Also wrap KMS-generated keys under the local providers, so reads survive a KMS outage. @default true */
  readonly wrapLocally?: boolean;
  readonly audit?: AuditSink;
  /** @default Date.now */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Limits on plaintext keys held in memory. @default { maxAgeMs: 300000, maxUses: 1000000 } */
  readonly cache?: DataKeyCacheLimits;
  /** How long a provider with an outage is skipped before being retried. @default 60000 */
  readonly providerRetryAfterMs?: number;
  /** How long an unknown key id is remembered before the manifest is reloaded for it again. @default 60000 */
  readonly unknownKeyRetryMs?: number;
  /**
   * When the active key must be fetched again and the manifest is older than this, it is
   * reloaded first, so a rotation done elsewhere (Secrets Manager, another process) is picked up.
   * @default 300000
   */
  readonly manifestMaxAgeMs?: number;
  /**
   * MACs every manifest written and verifies every manifest read (see manifestSeal.ts). Without
   * one, manifests are neither sealed nor checked, and `status().manifestSealed` says so.
   */
  readonly sealer?: ManifestSealer;
  /** Where the highest manifest revision seen is kept between runs (see revisionPin.ts). */
  readonly revisionPins?: RevisionPinStore;
  /**
   * Never write anything: no manifest change, no new key version (not even a first one or a
   * fallback), no revision pin, no audit record. For read-only commands (`status`, `health`).
   * @default false
   */
  readonly readOnly?: boolean;
  /**
   * Open even when the manifest fails its integrity checks or the root key does not match it, so
   * that `importBackup` can replace it (`cachevault keys restore`). Every other key operation
   * then throws the refusal. @default false
   */
  readonly recovery?: boolean;
}

export interface KeyVersionStatus {
  readonly id: string;
  readonly state: KeyState;
  readonly createdAt: string;
  readonly ageDays: number;
  readonly localOnly: boolean;
  /** Providers holding a wrapping of it. */
  readonly wrappedBy: readonly KeyProviderName[];
  /** A process-local fallback key, not in the shared manifest (see `activeKey`). */
  readonly ephemeral: boolean;
}

export interface KeyManagerStats {
  /** Times a provider outage made the chain fall back to the next provider. */
  readonly fallbacks: number;
  /** Provider calls that produced a plaintext key (generate + unwrap). */
  readonly providerCalls: number;
  readonly cacheHits: number;
  readonly manifestReloads: number;
}

export interface KeyManagerStatus {
  readonly app: string;
  readonly environment: string;
  readonly manifest: string;
  /** The manifest's id, which qualifies the key ids entries carry (`k1:<manifestId>`); see keyIds.ts. */
  readonly manifestId: string | undefined;
  readonly activeKeyId: string | undefined;
  readonly versions: readonly KeyVersionStatus[];
  readonly providers: readonly ProviderHealth[];
  readonly stats: KeyManagerStats;
  /** Whether the manifest carries a MAC this client verified (false: unsealed, or no MAC key configured). */
  readonly manifestSealed: boolean;
  readonly manifestRevision: number;
}

const DAY_MS = 86_400_000;

function closedError(): KeyStateError {
  return new KeyStateError('The KeyManager is closed.', { hint: 'Open a new one with KeyManager.open().' });
}
const MAX_REMEMBERED_UNKNOWN_IDS = 1_024;

/** Whether a local provider said the key was wrapped under another root key, or it has none. */
function rootKeyMismatch(error: NoKeyProviderError): boolean {
  return error.attempts.some((a) => a.failure === KeyProviderFailure.wrongKey || a.failure === KeyProviderFailure.noRootKey);
}

/**
 * Data key versions for a cache: the manifest (wrapped keys and their states), the provider
 * chain that wraps and unwraps them, and an in-memory cache of plaintext keys with age and use
 * limits. Implements DataKeySource for the encryption layer.
 *
 * Plaintext key Buffers handed out stay valid only for the operation at hand: they are zeroed
 * when the cache drops them (limits reached, retire, close), so callers must not keep them.
 */
export class KeyManager implements DataKeySource, CacheEventSource {
  private readonly options: KeyManagerOptions;
  private readonly chain: KeyProviderChain;
  private readonly cache: DataKeyCache;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly flights = new SingleFlight<DataKey>();
  private readonly reloads = new SingleFlight<KeyManifest>();
  private readonly unknownIds = new Map<string, number>();
  /** Process-local fallback keys (shared store, KMS down): not in the manifest, never shared. */
  private readonly localKeys: ProcessLocalKeys;
  private current: KeyManifest;
  /**
   * The manifest's active key id as entries carry it (`k2:<manifest id>`), kept beside it so
   * the hot path does not search.
   */
  private activeId: string | undefined;
  /** The manifest's id (see keyIds.ts), and every id its entries may carry. */
  private ownManifestId: string | undefined;
  private acceptedIds: readonly string[] = [];
  private manifestLoadedAt = Number.NEGATIVE_INFINITY;
  private closed = false;
  private counters = { providerCalls: 0, cacheHits: 0, manifestReloads: 0 };
  /** The highest revision seen (and whether a sealed one was), from memory and the pin store. */
  private pin: RevisionPin = { revision: 0, sealed: false };
  private pinLoaded = false;
  /** Set while the loaded manifest is a legacy, unsealed one: only sealing or rotating may use it. */
  private unsealed: ManifestIntegrityError | undefined;
  /** Recovery mode: why the stored manifest was refused (see `recovery`). */
  private blocked: ManifestIntegrityError | RootKeyMismatchError | undefined;
  private readonly audit: AuditSink | undefined;
  private events: CacheEventSink = NO_EVENTS;

  private constructor(options: KeyManagerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.audit = options.readOnly ? undefined : options.audit;
    this.chain = new KeyProviderChain(options.providers, {
      logger: this.logger,
      audit: this.audit,
      clock: this.clock,
      retryAfterMs: options.providerRetryAfterMs,
    });
    this.cache = new DataKeyCache(options.cache ?? {}, this.clock);
    this.current = emptyManifest(options.app, options.environment);
    this.localKeys = new ProcessLocalKeys({ generate: (id) => this.chain.generate(this.context(id), false), clock: this.clock, logger: this.logger, audit: this.audit });
  }

  private get manifest(): KeyManifest {
    return this.current;
  }

  private set manifest(manifest: KeyManifest) {
    const previousId = this.ownManifestId;
    this.current = manifest;
    this.ownManifestId = manifestId(manifest);
    this.acceptedIds = acceptedManifestIds(manifest);
    // Another manifest took this one's place (a backup of another deployment restored): the
    // cached keys were the old manifest's and must not open anything now.
    if (previousId !== undefined && previousId !== this.ownManifestId) this.cache.clear();
    const active = activeVersion(manifest)?.id;
    this.activeId = active === undefined ? undefined : this.entryKeyId(active);
  }

  /**
   * The id entries sealed under manifest version `versionId` carry (`k1:<manifest id>`), which
   * is also the key's id in the plaintext cache; process-local ids are their own.
   */
  entryKeyId(versionId: string): string {
    return this.ownManifestId !== undefined && isVersionId(versionId) ? qualifyKeyId(versionId, this.ownManifestId) : versionId;
  }

  /** The manifest's id (see keyIds.ts); `undefined` before its first version. */
  get manifestId(): string | undefined {
    return this.ownManifestId;
  }

  /** Every manifest id this manifest's entries may carry (its id, and a legacy alias). */
  get acceptedManifestIds(): readonly string[] {
    return this.acceptedIds;
  }

  /** Whether an entry's key id (`k1:<this manifest's id>`, or a plain `k1` written before ids were qualified) is this manifest's version `versionId`. */
  isSealedUnder(keyId: string, versionId: string): boolean {
    const owner = this.ownerOf(keyId);
    return owner.kind === 'own' && owner.versionId === versionId;
  }

  /** Whose key an entry's key id names: a version of this manifest, another manifest's, or neither. */
  ownerOf(keyId: string): KeyIdOwner {
    return keyIdOwner(keyId, this.acceptedIds);
  }

  /**
   * Loads the manifest and checks it (MAC, revision pin, root key). No provider is called until
   * a key is needed, except a local sealer's root key to verify the MAC.
   */
  static async open(options: KeyManagerOptions): Promise<KeyManager> {
    const manager = new KeyManager(options);
    try {
      await manager.reload();
    } catch (error) {
      if (!options.recovery || !(error instanceof ManifestIntegrityError || error instanceof RootKeyMismatchError)) throw error;
      manager.blocked = error;
      manager.logger.warn({ manifest: options.store.description, code: error.code }, 'opened for recovery: the key manifest was refused, only a backup import can replace it');
    }
    return manager;
  }

  /** The key new entries are sealed with; creates the first version when the manifest is empty. */
  activeKey(): Promise<DataKey> {
    // Not async: the cached path (every seal) resolves without an extra async frame.
    if (this.closed) return Promise.reject(closedError());
    const refused = this.blocked ?? this.unsealed;
    if (refused) return Promise.reject(refused);
    const id = this.localKeys.activeId ?? this.activeId;
    if (id !== undefined) {
      const key = this.cache.use(id);
      if (key) {
        this.counters.cacheHits += 1;
        return Promise.resolve(key);
      }
    }
    return this.flights.run('active', () => this.loadActive());
  }

  /** A key by version id. Unknown ids reload the manifest once (per `unknownKeyRetryMs`). */
  keyById(id: string): Promise<DataKey> {
    if (this.closed) return Promise.reject(closedError());
    const refused = this.blocked ?? this.unsealed;
    if (refused) return Promise.reject(refused);
    const hit = this.cache.use(id);
    if (hit) {
      this.counters.cacheHits += 1;
      return Promise.resolve(hit);
    }
    const owner = this.ownerOf(id);
    // Another manifest's entry is recognised from its id alone: no reload, no unwrap attempt.
    // Before this manifest has a version, its id is unknown: the lookup below reloads first.
    if (owner.kind === 'foreign' && this.ownManifestId !== undefined) return Promise.reject(new ForeignManifestError(id, owner.manifestId, this.ownManifestId));
    // A plain `k1` (written before ids were qualified) is this manifest's `k1`.
    const cacheId = owner.kind === 'own' ? this.entryKeyId(owner.versionId) : id;
    if (cacheId !== id) {
      const key = this.cache.use(cacheId);
      if (key) {
        this.counters.cacheHits += 1;
        return Promise.resolve(key);
      }
    }
    return this.flights.run(`id:${cacheId}`, () => this.loadById(id));
  }

  /** Reports key rotations, provider calls and provider fallbacks to `sink` too (a cache attaches its own). */
  attachEvents(sink: CacheEventSink): void {
    this.events = combineSinks(this.events, sink);
    this.chain.attachEvents(sink);
  }

  /** Calls `listener` with each data key right after the cache zeroes it (for derived state). */
  onKeyDropped(listener: (key: DataKey) => void): () => void {
    return this.cache.onDrop(listener);
  }

  /** Whether entries sealed under `keyId` must stay off shared tiers (no KMS wrapping). */
  isLocalOnly(keyId: string): boolean {
    const owner = this.ownerOf(keyId);
    const version = this.localKeys.get(keyId) ?? (owner.kind === 'own' ? findVersion(this.manifest, owner.versionId) : undefined);
    return version?.localOnly ?? false;
  }

  /** New active version; the previous one becomes decrypt-only. Returns both ids. */
  async rotate(): Promise<{ previous: string | undefined; current: string }> {
    this.assertWritable();
    let previous: string | undefined;
    const key = await this.flights.run('rotate', () =>
      this.exclusive(() =>
        this.addVersion('rotate', (id) => {
          previous = id;
        }),
      ),
    );
    return { previous, current: key.id };
  }

  /**
   * Retires a decrypt-only version: its wrapped material leaves the manifest and its cached
   * plaintext is zeroed. Entries still sealed under it become unreadable misses, so run the
   * re-encryption sweep to completion first.
   */
  async retire(keyId: string): Promise<void> {
    this.assertWritable();
    await this.exclusive(async () => {
      const next = withRetired(await this.sealedFreshManifest(), keyId, new Date(this.clock()).toISOString());
      await this.saveManifest(next);
    });
    this.cache.drop(this.entryKeyId(keyId));
    this.audit?.append(AuditEvent.keyRetired, { keyId });
    this.logger.info({ keyId }, `retired key version ${keyId}`);
  }

  /** Whether this manager was opened read-only (it then never writes anything). */
  get readOnly(): boolean {
    return this.options.readOnly === true;
  }

  /** Each configured provider's own cheap check (credentials, D-Bus, variable set and sound). */
  async probeProviders(): Promise<{ provider: KeyProviderName; ok: boolean; reason?: string }[]> {
    this.assertOpen();
    const results = [];
    for (const provider of this.options.providers) {
      const outcome = await provider.probe();
      results.push(outcome.ok ? { provider: provider.name, ok: true } : { provider: provider.name, ok: false, reason: outcome.reason });
    }
    return results;
  }

  /** The audit log's head as last anchored in the manifest (see `updateAuditHead`). */
  auditHead(): AuditHead | undefined {
    return this.manifest.auditHead;
  }

  /**
   * Anchors the audit log's head in the manifest, where it is covered by the manifest's MAC, so a
   * writer of the log alone cannot truncate, rewrite or extend it unnoticed. A head with a lower
   * `seq` than the anchored one is refused (that is what a truncation looks like).
   */
  async updateAuditHead(head: AuditHead): Promise<void> {
    this.assertWritable();
    if (!Number.isSafeInteger(head.seq) || head.seq < 0 || typeof head.mac !== 'string' || head.mac.length === 0 || head.mac.length > 256) {
      throw new KeyStateError('An audit head needs a non-negative integer seq and a MAC string of at most 256 characters.');
    }
    await this.exclusive(async () => {
      const fresh = await this.sealedFreshManifest();
      const anchored = fresh.auditHead;
      if (anchored && anchored.seq === head.seq && anchored.mac === head.mac) return;
      if (anchored && head.seq < anchored.seq) {
        throw new KeyStateError(`The audit head to anchor (seq ${head.seq}) is behind the anchored one (seq ${anchored.seq}).`, {
          hint: 'The audit log was truncated or replaced: run `cachevault audit verify`.',
          context: { seq: head.seq, anchored: anchored.seq },
        });
      }
      await this.saveManifest(withAuditHead(fresh, head));
    });
  }

  /**
   * A 32-byte HKDF subkey of the local root key (the first local provider configured) for one use,
   * named by `label` (see RootSubkeyLabel, e.g. `audit-mac`). The caller zeroes it when done.
   * Throws NoKeyProviderError when no local root-key provider is configured.
   */
  async deriveRootSubkey(label: string): Promise<Buffer> {
    this.assertOpen();
    const local = this.options.providers.find(isLocalRootKeyProvider);
    if (!local) {
      const candidates = KEY_PROVIDERS.filter((p) => p.localRootKey).map((p) => p.name);
      throw new NoKeyProviderError(`Could not derive the root subkey "${label}"`, [
        { provider: candidates[0]!, reason: `no local root-key provider (${candidates.join(' or ')}) is configured`, hint: `add ${candidates.map((n) => `"${n}"`).join(' or ')} to keys.providers` },
      ]);
    }
    // Read-only opens (status, audit verify) must not create a keyring root key as a side effect.
    return local.deriveRootSubkey(label, { create: !this.readOnly });
  }

  /**
   * Seals a manifest written before manifests carried a MAC (`cachevault keys seal-manifest`):
   * unwraps every version with this client's providers, adds the key-check values, and writes it
   * MACed. Explicit by design: a client never seals whatever manifest it happens to find. Refused
   * when this client has seen the manifest sealed (an unsealed one then is a downgrade).
   */
  async sealManifest(): Promise<{ revision: number; versions: string[]; alreadySealed: boolean }> {
    this.assertWritable();
    if (!this.options.sealer) {
      throw new KeyStateError('No manifest MAC key is configured, so the manifest cannot be sealed.', {
        hint: 'Use a local root-key provider (keyring or env) for a file manifest, or set keys.kms.macKeyId for a Secrets Manager one.',
      });
    }
    return this.exclusive(async () => {
      const fresh = await this.freshManifest();
      const versions = fresh.versions.filter((v) => v.state !== KeyState.retired).map((v) => v.id);
      if (!this.unsealed && fresh.mac !== undefined) return { revision: fresh.revision, versions, alreadySealed: true };
      const checked = await this.withKeyChecks(fresh);
      await this.saveManifest({ ...checked, revision: checked.revision + 1 });
      this.logger.info({ manifest: this.store.description, revision: this.manifest.revision }, 'sealed the key manifest');
      return { revision: this.manifest.revision, versions, alreadySealed: false };
    });
  }

  /**
   * After the KMS alias was moved to a new key: wraps every version held under a former key
   * again under the configured one (`cachevault keys rewrap --from <old key ARN>`). Only keys
   * named in `from` are unwrapped from; a version under any other key is refused
   * (KMS_KEY_MISMATCH), so whoever writes the manifest still cannot choose the key. Each
   * unwrapped key is checked against its key-check value before it is wrapped again.
   */
  async rewrap(options: { from: readonly string[] }): Promise<{ rewrapped: string[]; unchanged: string[]; target: string }> {
    this.assertWritable();
    const kms = this.options.providers.find(isRewrappableKeyProvider);
    if (!kms) throw new KeyStateError('No KMS provider is configured, so there is nothing to rewrap.', { hint: 'Add "kms" to keys.providers with keys.kms.keyId set to the new key or its alias.' });
    const target = await kms.currentKeyRef();
    return this.exclusive(async () => {
      const fresh = await this.sealedFreshManifest();
      const rewrapped: string[] = [];
      const unchanged: string[] = [];
      const versions: KeyVersionRecord[] = [];
      for (const version of fresh.versions) {
        const old = version.wrapped.find((w) => w.provider === kms.name);
        if (version.state === KeyState.retired || !old || old.wrappingKeyRef === target) {
          versions.push(version);
          unchanged.push(version.id);
          continue;
        }
        if (!options.from.includes(old.wrappingKeyRef)) throw new KmsKeyMismatchError(version.id, old.wrappingKeyRef, target);
        const context = this.context(version.id);
        const material = await kms.unwrapFrom(old, context, old.wrappingKeyRef);
        try {
          if (version.check !== undefined && !verifyKeyCheck(material, version.check)) {
            throw new ManifestIntegrityError(ManifestIntegrityFailure.keyCheck, `Key version ${version.id} unwrapped under ${old.wrappingKeyRef} does not match its key-check value.`, {
              keyId: version.id,
              hint: 'Nothing was changed. The manifest was altered: restore it from a key backup.',
            });
          }
          const wrapped = await kms.wrap(material, context);
          versions.push({ ...version, wrapped: [wrapped, ...version.wrapped.filter((w) => w !== old)], check: version.check ?? keyCheckValue(material) });
          rewrapped.push(version.id);
        } finally {
          material.fill(0);
        }
      }
      if (rewrapped.length > 0) {
        await this.saveManifest({ ...fresh, revision: fresh.revision + 1, versions });
        this.logger.info({ rewrapped, target }, `re-wrapped key versions ${rewrapped.join(', ')} under ${target}`);
      }
      return { rewrapped, unchanged, target };
    });
  }

  /**
   * Replaces the local root key (`cachevault keys rotate-root`): every non-retired version is
   * unwrapped (and key-checked), wrapped again under `next` (a provider of the same kind holding
   * the new root key), its old local wrapping dropped, and the manifest MACed under the new root
   * key when it was MACed under the old one. The old root key's revision pin is removed and a new
   * one written. Afterwards only the new root key opens what this library wrote; once the old key
   * is deleted, every earlier copy of the manifest (file copies, snapshots) is useless. The data
   * keys themselves do not change, so entries need no re-encryption. The manager is closed after.
   */
  async rotateRoot(next: LocalRootKeyProvider): Promise<{ versions: string[]; revision: number }> {
    this.assertWritable();
    const old = this.options.providers.find((p) => p.name === next.name);
    if (!old || !isLocalRootKeyProvider(old)) {
      throw new KeyStateError(`No ${next.name} provider is configured, so there is no ${next.name} root key to replace.`, { hint: `Add "${next.name}" to keys.providers.` });
    }
    if ((await old.rootKeyRef()) === (await next.rootKeyRef({ create: true }))) {
      throw new KeyStateError('The new root key is the same as the current one.', { hint: 'Generate a new one: `openssl rand -base64 32`.' });
    }
    const result = await this.exclusive(async () => {
      const fresh = await this.sealedFreshManifest();
      const versions: KeyVersionRecord[] = [];
      const moved: string[] = [];
      for (const version of fresh.versions) {
        if (version.state === KeyState.retired) {
          versions.push(version);
          continue;
        }
        const material = await this.unwrap(version);
        try {
          const wrapped = await next.wrap(material, this.context(version.id));
          versions.push({ ...version, wrapped: [...version.wrapped.filter((w) => w.provider !== next.name), wrapped], check: version.check ?? keyCheckValue(material) });
          moved.push(version.id);
        } finally {
          material.fill(0);
        }
      }
      const sealer = this.options.sealer instanceof LocalManifestSealer ? new LocalManifestSealer(next) : this.options.sealer;
      const { mac: _old, ...rest } = fresh;
      let out: KeyManifest = { ...rest, formatVersion: 2, revision: fresh.revision + 1, versions };
      if (sealer) out = await sealManifest(out, sealer);
      await this.store.save(out);
      this.manifest = out;
      const pins = this.options.revisionPins;
      if (pins?.forRootKey) {
        await pins.forRootKey(next).save(this.store.description, { revision: out.revision, sealed: out.mac !== undefined });
        await pins.remove?.();
      }
      return { versions: moved, revision: out.revision };
    });
    this.logger.info({ versions: result.versions, provider: next.name }, 'replaced the local root key: every key version is wrapped under the new one');
    await this.close();
    return result;
  }

  /** Versions with states and ages, provider health and counters; never key material. */
  status(): KeyManagerStatus {
    const now = this.clock();
    const versions = [...this.manifest.versions, ...this.localKeys.versions()].map((v) => ({
      id: v.id,
      state: v.state,
      createdAt: v.createdAt,
      ageDays: Math.floor((now - Date.parse(v.createdAt)) / DAY_MS),
      localOnly: v.localOnly,
      wrappedBy: v.wrapped.map((w) => w.provider),
      ephemeral: this.localKeys.has(v.id),
    }));
    return {
      app: this.options.app,
      environment: this.options.environment,
      manifest: this.store.description,
      manifestId: this.ownManifestId,
      activeKeyId: this.localKeys.activeId ?? activeVersion(this.manifest)?.id,
      versions,
      providers: this.chain.health(),
      stats: this.stats(),
      manifestSealed: this.options.sealer !== undefined && this.manifest.mac !== undefined && this.unsealed === undefined,
      manifestRevision: this.manifest.revision,
    };
  }

  stats(): KeyManagerStats {
    return { fallbacks: this.chain.fallbacks, ...this.counters };
  }

  /** The manifest and every non-retired key, sealed under a passphrase or recovery code (see keyBackup.ts). */
  async exportBackup(passphrase: string, options: SealBackupOptions = {}): Promise<Buffer> {
    this.assertOpen();
    return exportKeyBackup(this.backupHost(), passphrase, options);
  }

  /**
   * Restores versions from a backup, wrapping each key again under this machine's providers
   * (see `importKeyBackup`). Also the way out of recovery mode: it replaces a refused manifest.
   */
  async importBackup(bytes: Uint8Array, passphrase: string, options: OpenBackupOptions = {}): Promise<{ imported: string[]; activeKeyId: string | undefined }> {
    this.assertWritable();
    return importKeyBackup(this.backupHost(), bytes, passphrase, options);
  }

  /** Zeroes every cached key and root key; the manager cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    this.chain.close();
    (this.store as { close?: () => void }).close?.();
    (this.options.sealer as { close?: () => void } | undefined)?.close?.();
  }

  /** A summary without material: util.inspect would otherwise walk into the key cache. */
  [inspect.custom](): string {
    const active = this.localKeys.activeId ?? activeVersion(this.manifest)?.id;
    return `KeyManager { app: ${this.options.app}, environment: ${this.options.environment}, manifest: ${this.store.description}, active: ${active ?? 'none'}, versions: ${this.manifest.versions.length} }`;
  }

  toJSON(): KeyManagerStatus {
    return this.status();
  }

  /** The narrow view of this manager that backup export and import work through (keyBackup.ts). */
  private backupHost(): KeyBackupHost {
    return {
      app: this.options.app,
      environment: this.options.environment,
      audit: this.audit,
      now: () => this.clock(),
      freshManifest: () => this.freshManifest(),
      keyById: (id) => this.keyById(id),
      wrapAll: (material, keyId) => this.chain.wrapAll(material, this.context(keyId)),
      assertShareable: (localOnlyIds, what) => {
        if (localOnlyIds.length > 0 && this.refusesLocalOnly()) throw this.localOnlyRefused(`Could not ${what} ${localOnlyIds.join(', ')} into the shared manifest ${this.store.description}`);
      },
      replaceManifest: (build) =>
        this.exclusive(async () => {
          // In recovery the refused manifest is not built on: the backup replaces it, above any
          // revision this client has seen.
          const base = this.blocked ? { ...emptyManifest(this.options.app, this.options.environment), revision: this.pin.revision } : await this.sealedFreshManifest();
          await this.saveManifest(build(base));
          return this.manifest;
        }),
      forgetKeys: (ids) => {
        for (const id of ids) this.cache.drop(this.entryKeyId(id));
      },
    };
  }

  /**
   * Whether a key version wrapped by no remote provider must stay out of the manifest: it is shared
   * and a remote provider (KMS) is configured, so other machines could not read such a version.
   */
  private refusesLocalOnly(): boolean {
    return this.store.shared && this.options.providers.some((p) => !isLocalProvider(p));
  }

  private localOnlyRefused(what: string, keyId?: string): NoKeyProviderError {
    const down = this.chain.health().filter((h) => h.down);
    return new NoKeyProviderError(what, down.map((h) => ({ provider: h.provider, reason: h.reason ?? 'unavailable', hint: 'restore access to KMS; a shared key version must be wrapped by KMS' })), keyId);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.store.exclusive ? this.store.exclusive(fn) : fn();
  }

  private get store(): ManifestStore {
    return this.options.store;
  }

  private context(keyId: string): KeyContext {
    return { app: this.options.app, environment: this.options.environment, keyId };
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.options.readOnly) {
      throw new KeyStateError('This KeyManager was opened read-only: it changes neither the key manifest nor anything else.', {
        hint: 'Open it without readOnly to rotate, retire, import or create keys.',
      });
    }
  }

  private async loadActive(): Promise<DataKey> {
    await this.refreshIfStale();
    const fallbackId = this.localKeys.activeId;
    return fallbackId === undefined ? this.activeFromManifest() : this.activeWhileOnFallback(fallbackId);
  }

  /** Reloads a manifest older than `manifestMaxAgeMs`, so a rotation done elsewhere is picked up. */
  private async refreshIfStale(): Promise<void> {
    if (this.clock() - this.manifestLoadedAt < (this.options.manifestMaxAgeMs ?? 300_000)) return;
    try {
      await this.reload();
    } catch (error) {
      // A store outage must not stop a client that already has a manifest: keep using it. A
      // manifest that fails its integrity checks is not an outage: that is refused.
      if (this.manifest.versions.length === 0 || error instanceof ManifestIntegrityError || error instanceof RootKeyMismatchError) throw error;
      this.manifestLoadedAt = this.clock();
      this.logger.warn({ manifest: this.store.description, error: (error as Error).message }, 'could not refresh the key manifest; using the copy in memory');
    }
  }

  /** The manifest's active key; the first version when there is none; a fallback when it cannot be unwrapped. */
  private async activeFromManifest(): Promise<DataKey> {
    const version = activeVersion(this.manifest);
    if (!version) {
      if (this.options.readOnly) {
        throw new KeyStateError(`The key manifest ${this.store.description} has no active key version yet.`, { hint: 'The first write creates one; read-only commands never do.' });
      }
      return this.exclusive(() => this.addVersion('initial'));
    }
    try {
      return this.remember(version.id, await this.unwrap(version));
    } catch (error) {
      if (!(error instanceof NoKeyProviderError)) throw error;
      this.assertFallbackAllowed(error);
      return this.fallbackActive(error);
    }
  }

  /** Running on a process-local key: back to the shared one as soon as it unwraps again. */
  private async activeWhileOnFallback(fallbackId: string): Promise<DataKey> {
    const shared = activeVersion(this.manifest);
    if (shared) {
      try {
        const material = await this.unwrap(shared);
        this.logger.info({ keyId: shared.id }, `the shared active key ${shared.id} unwraps again; leaving the local fallback key`);
        this.localKeys.leave();
        return this.remember(shared.id, material);
      } catch (error) {
        if (!(error instanceof NoKeyProviderError)) throw error;
      }
    }
    const local = this.localKeys.get(fallbackId)!;
    return this.remember(local.id, await this.unwrap(local));
  }

  /**
   * The active key cannot be unwrapped by any provider (KMS down, no local wrapping). A private
   * manifest gets a new local-only active version; a shared one must not (other machines could
   * not read it), so this process seals under a process-local key whose entries stay local.
   */
  private async fallbackActive(cause: NoKeyProviderError): Promise<DataKey> {
    if (!this.store.shared) return this.exclusive(() => this.addVersion('fallback'));
    const sharedId = activeVersion(this.manifest)?.id;
    const { id, plaintext } = await this.localKeys.create(cause, sharedId);
    this.counters.providerCalls += 1;
    if (sharedId !== undefined && this.events.wants.keyRotation) this.events.emit('keyRotation', { type: 'keyRotation', from: sharedId, to: id, reason: 'fallback' });
    return this.remember(id, plaintext);
  }

  private async addVersion(reason: 'initial' | 'rotate' | 'fallback', onPrevious?: (id: string | undefined) => void): Promise<DataKey> {
    this.assertWritable();
    // Rotating is the one explicit act that may seal a legacy (unsealed) manifest.
    const fresh = reason === 'rotate' ? await this.freshManifest() : await this.sealedFreshManifest();
    const current = activeVersion(fresh);
    onPrevious?.(current?.id);
    if (reason === 'initial' && current) {
      // Another process created the first version meanwhile: use it.
      return this.remember(current.id, await this.unwrap(current));
    }
    const id = nextVersionId(fresh);
    const generated = await this.chain.generate(this.context(id), this.options.wrapLocally ?? true);
    this.counters.providerCalls += 1;
    const hasRemote = this.options.providers.some((p) => !isLocalProvider(p));
    if (generated.localOnly && this.refusesLocalOnly()) {
      generated.plaintext.fill(0);
      throw this.localOnlyRefused(`Could not create key version ${id} for the shared manifest ${this.store.description}`, id);
    }
    const record: KeyVersionRecord = {
      id,
      createdAt: new Date(this.clock()).toISOString(),
      state: KeyState.active,
      localOnly: generated.localOnly,
      wrapped: generated.wrapped,
      check: keyCheckValue(generated.plaintext),
    };
    try {
      await this.saveManifest(withNewActive(reason === 'rotate' ? await this.withKeyChecks(fresh) : fresh, record));
    } catch (error) {
      generated.plaintext.fill(0);
      throw error;
    }
    this.localKeys.leave();
    const providers = generated.wrapped.map((w) => w.provider);
    this.audit?.append(AuditEvent.keyGenerated, { keyId: id, reason, localOnly: generated.localOnly, providers });
    if (current) this.audit?.append(AuditEvent.keyRotated, { from: current.id, to: id, reason });
    if (current && reason !== 'initial' && this.events.wants.keyRotation) this.events.emit('keyRotation', { type: 'keyRotation', from: current.id, to: id, reason });
    if (generated.localOnly && hasRemote) {
      this.logger.warn({ keyId: id }, `key version ${id} is wrapped only by a local provider (KMS unavailable): rotate once KMS is back`);
    }
    this.logger.info({ keyId: id, reason, providers }, `created key version ${id}`);
    return this.remember(id, generated.plaintext);
  }

  /** `keyId` as the entry carries it: a qualified or plain manifest id, or a process-local one. */
  private async loadById(keyId: string): Promise<DataKey> {
    const local = this.localKeys.get(keyId);
    if (local) return this.remember(keyId, await this.unwrap(local));
    let owner = this.ownerOf(keyId);
    // Ids that cannot be in a manifest (another process's local fallback key, forged bytes) cost no reload.
    const id = owner.kind === 'other' ? keyId : owner.versionId;
    let version = owner.kind === 'own' ? findVersion(this.manifest, id) : undefined;
    if (!version && owner.kind !== 'other') {
      const checkedAt = this.unknownIds.get(id);
      if (checkedAt === undefined || this.clock() - checkedAt >= (this.options.unknownKeyRetryMs ?? 60_000)) {
        // Bounded: entries under many forged ids must not grow memory without limit.
        if (this.unknownIds.size >= MAX_REMEMBERED_UNKNOWN_IDS) this.unknownIds.delete(this.unknownIds.keys().next().value!);
        this.unknownIds.delete(id);
        this.unknownIds.set(id, this.clock());
        await this.reload();
        owner = this.ownerOf(keyId);
        version = owner.kind === 'own' ? findVersion(this.manifest, id) : undefined;
      }
    }
    if (owner.kind === 'foreign' && this.ownManifestId !== undefined) throw new ForeignManifestError(keyId, owner.manifestId, this.ownManifestId);
    if (!version) {
      throw new KeyUnavailableError(`Key version ${id} is not in the key manifest (${this.store.description}).`, id, {
        hint: 'The entry was written under a key this deployment does not have (another cache, a lost manifest or a process-local fallback key); it reads as a miss.',
      });
    }
    if (version.state === KeyState.retired) {
      throw new KeyUnavailableError(`Key version ${id} is retired; its material was destroyed.`, id, {
        hint: 'Entries still under it read as misses; run the re-encryption sweep before retiring a version.',
      });
    }
    this.unknownIds.delete(id);
    return this.remember(id, await this.unwrap(version));
  }

  /**
   * Unwraps a version and checks the result against its key-check value: a wrapping substituted
   * in the manifest (another key under the same KMS context) is refused, never used. A local
   * root key that is not the one the key was wrapped under is ROOT_KEY_MISMATCH.
   */
  private async unwrap(version: KeyVersionRecord): Promise<Buffer> {
    this.counters.providerCalls += 1;
    let material: Buffer;
    try {
      material = await this.chain.unwrap(version.wrapped, this.context(version.id));
    } catch (error) {
      if (error instanceof NoKeyProviderError && rootKeyMismatch(error) && !error.attempts.some((a) => isOutageFailure(a.failure))) {
        throw new RootKeyMismatchError(`Could not unwrap key version ${version.id}`, version.id, { cause: error });
      }
      throw error;
    }
    if (version.check !== undefined && !verifyKeyCheck(material, version.check)) {
      material.fill(0);
      throw new ManifestIntegrityError(ManifestIntegrityFailure.keyCheck, `Key version ${version.id} unwrapped to a key that does not match its key-check value: its wrapping was substituted.`, {
        keyId: version.id,
        hint: 'Nothing was changed and the key was not used. Restore the manifest from a key backup and find out who could write it.',
      });
    }
    return material;
  }

  /**
   * A provider failure may make the chain fall back (to a local-only version in a private
   * manifest, or a process-local key for a shared one) only when it is an outage. A wrong or
   * missing root key is never one: falling back would replace the keys every other client uses.
   */
  private assertFallbackAllowed(error: NoKeyProviderError): void {
    const outage = error.attempts.some((a) => isOutageFailure(a.failure));
    if (this.options.readOnly) throw error;
    // In a shared manifest another machine's local wrapping is expected; with KMS down, this
    // process may still seal under a process-local key, which changes nothing shared.
    if (rootKeyMismatch(error) && !(this.store.shared && outage)) {
      throw new RootKeyMismatchError('Could not unwrap the active key', activeVersion(this.manifest)?.id, { cause: error });
    }
    if (!outage) throw error;
  }

  /**
   * Unwraps every version still holding material and gives those without one a key-check value,
   * so sealing (or a rotation sealing a legacy manifest) never vouches for keys nobody checked.
   */
  private async withKeyChecks(manifest: KeyManifest): Promise<KeyManifest> {
    const versions: KeyVersionRecord[] = [];
    for (const version of manifest.versions) {
      if (version.state === KeyState.retired || version.check !== undefined) {
        versions.push(version);
        continue;
      }
      const key = this.cache.use(this.entryKeyId(version.id)) ?? this.remember(version.id, await this.unwrap(version));
      versions.push({ ...version, check: keyCheckValue(key.material) });
    }
    return { ...manifest, versions };
  }

  /** Caches `material` under the id entries carry for version `id` (entryKeyId). */
  private remember(id: string, material: Buffer): DataKey {
    const keyId = this.entryKeyId(id);
    this.cache.put(keyId, material, id);
    return this.cache.use(keyId) ?? (keyId === id ? { id, material } : { id, entryKeyId: keyId, material });
  }

  private async freshManifest(): Promise<KeyManifest> {
    await this.reload();
    return this.manifest;
  }

  /** The fresh manifest, refused when it is a legacy unsealed one (only sealing or rotating may change that). */
  private async sealedFreshManifest(): Promise<KeyManifest> {
    if (this.blocked) throw this.blocked;
    const fresh = await this.freshManifest();
    if (this.unsealed) throw this.unsealed;
    return fresh;
  }

  /**
   * Writes `next`, MACed when a sealer is configured, and moves the revision pin to it. A sealed
   * manifest is never written back unsealed by a client without the MAC key (a downgrade).
   */
  private async saveManifest(next: KeyManifest): Promise<void> {
    this.assertWritable();
    const { mac: _old, ...rest } = next;
    let out: KeyManifest = { ...rest, formatVersion: 2 };
    if (this.options.sealer) {
      out = await sealManifest(out, this.options.sealer);
    } else if (this.pin.sealed || next.mac !== undefined) {
      throw new ManifestError(`The key manifest ${this.store.description} is sealed, and this client has no MAC key to seal a change with.`, {
        hint: 'Configure the manifest MAC key (keys.kms.macKeyId, or a local root-key provider for a file manifest); writing it unsealed would be a downgrade.',
      });
    }
    await this.store.save(out);
    this.manifest = out;
    this.unsealed = undefined;
    this.blocked = undefined;
    await this.advancePin(out);
  }

  private async loadPin(): Promise<void> {
    if (this.pinLoaded) return;
    const stored = await this.options.revisionPins?.load(this.store.description);
    if (stored) this.pin = { revision: Math.max(this.pin.revision, stored.revision), sealed: this.pin.sealed || stored.sealed };
    this.pinLoaded = true;
  }

  private async advancePin(manifest: KeyManifest): Promise<void> {
    const sealed = manifest.mac !== undefined && this.options.sealer !== undefined;
    if (manifest.revision < this.pin.revision || (manifest.revision === this.pin.revision && (!sealed || this.pin.sealed))) return;
    this.pin = { revision: manifest.revision, sealed: this.pin.sealed || sealed };
    if (!this.options.readOnly) await this.options.revisionPins?.save(this.store.description, this.pin);
  }

  /** Reads the manifest from its store and takes it only when it passes `checkLoadedManifest`. */
  private reload(): Promise<KeyManifest> {
    return this.reloads.run('manifest', async () => {
      this.counters.manifestReloads += 1;
      await this.loadPin();
      const { manifest, unsealed } = await checkLoadedManifest(await this.store.load(), {
        where: this.store.description,
        app: this.options.app,
        environment: this.options.environment,
        pin: this.pin,
        memoryRevision: this.manifest.revision,
        seenKeys: this.pin.revision > 0 || this.manifest.versions.length > 0,
        sealer: this.options.sealer,
      });
      this.manifest = manifest ?? emptyManifest(this.options.app, this.options.environment);
      this.unsealed = unsealed;
      this.manifestLoadedAt = this.clock();
      if (manifest && !unsealed) await this.advancePin(manifest);
      return this.manifest;
    });
  }
}
