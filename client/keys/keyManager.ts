import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { AuditEvent, type AuditSink } from '../audit/auditLog';
import { SingleFlight } from '../core/singleFlight';
import { KeyUnavailableError } from '../errors';
import { silentLogger } from '../logger';
import type { Clock, Logger } from '../types';
import { DataKeyCache, type DataKeyCacheLimits } from './dataKeyCache';
import { KeyStateError, ManifestError, NoKeyProviderError } from './errors';
import { openBackup, sealBackup, type BackupKey, type OpenBackupOptions, type SealBackupOptions } from './keyBackup';
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
import { isLocalRootKeyProvider, type DataKey, type DataKeySource, type KeyContext, type KeyProvider, type KeyProviderName } from './keyProvider';
import { KeyProviderChain, isLocalProvider, type ProviderHealth } from './keyProviderChain';
import type { ManifestStore } from './manifestStore';

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
  readonly activeKeyId: string | undefined;
  readonly versions: readonly KeyVersionStatus[];
  readonly providers: readonly ProviderHealth[];
  readonly stats: KeyManagerStats;
}

const DAY_MS = 86_400_000;

function closedError(): KeyStateError {
  return new KeyStateError('The KeyManager is closed.', { hint: 'Open a new one with KeyManager.open().' });
}
const MAX_REMEMBERED_UNKNOWN_IDS = 1_024;

/**
 * Data key versions for a cache: the manifest (wrapped keys and their states), the provider
 * chain that wraps and unwraps them, and an in-memory cache of plaintext keys with age and use
 * limits. Implements DataKeySource for the encryption layer.
 *
 * Plaintext key Buffers handed out stay valid only for the operation at hand: they are zeroed
 * when the cache drops them (limits reached, retire, close), so callers must not keep them.
 */
export class KeyManager implements DataKeySource {
  private readonly options: KeyManagerOptions;
  private readonly chain: KeyProviderChain;
  private readonly cache: DataKeyCache;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly flights = new SingleFlight<DataKey>();
  private readonly reloads = new SingleFlight<KeyManifest>();
  private readonly unknownIds = new Map<string, number>();
  /** Process-local fallback keys (shared store, KMS down): not in the manifest, never shared. */
  private readonly ephemeral = new Map<string, KeyVersionRecord>();
  private ephemeralActive: string | undefined;
  private current: KeyManifest;
  /** The manifest's active version id, kept beside it so the hot path does not search. */
  private activeId: string | undefined;
  private manifestLoadedAt = Number.NEGATIVE_INFINITY;
  private closed = false;
  private counters = { providerCalls: 0, cacheHits: 0, manifestReloads: 0 };

  private constructor(options: KeyManagerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.chain = new KeyProviderChain(options.providers, {
      logger: this.logger,
      audit: options.audit,
      clock: this.clock,
      retryAfterMs: options.providerRetryAfterMs,
    });
    this.cache = new DataKeyCache(options.cache ?? {}, this.clock);
    this.current = emptyManifest(options.app, options.environment);
  }

  private get manifest(): KeyManifest {
    return this.current;
  }

  private set manifest(manifest: KeyManifest) {
    this.current = manifest;
    this.activeId = activeVersion(manifest)?.id;
  }

  /** Loads the manifest. No provider is called until a key is needed. */
  static async open(options: KeyManagerOptions): Promise<KeyManager> {
    const manager = new KeyManager(options);
    await manager.reload();
    return manager;
  }

  /** The key new entries are sealed with; creates the first version when the manifest is empty. */
  activeKey(): Promise<DataKey> {
    // Not async: the cached path (every seal) resolves without an extra async frame.
    if (this.closed) return Promise.reject(closedError());
    const id = this.ephemeralActive ?? this.activeId;
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
    const key = this.cache.use(id);
    if (key) {
      this.counters.cacheHits += 1;
      return Promise.resolve(key);
    }
    return this.flights.run(`id:${id}`, () => this.loadById(id));
  }

  /** Whether entries sealed under `keyId` must stay off shared tiers (no KMS wrapping). */
  isLocalOnly(keyId: string): boolean {
    const version = this.ephemeral.get(keyId) ?? findVersion(this.manifest, keyId);
    return version?.localOnly ?? false;
  }

  /** New active version; the previous one becomes decrypt-only. Returns both ids. */
  async rotate(): Promise<{ previous: string | undefined; current: string }> {
    this.assertOpen();
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
    this.assertOpen();
    await this.exclusive(async () => {
      const next = withRetired(await this.freshManifest(), keyId, new Date(this.clock()).toISOString());
      await this.store.save(next);
      this.manifest = next;
    });
    this.cache.drop(keyId);
    this.options.audit?.append(AuditEvent.keyRetired, { keyId });
    this.logger.info({ keyId }, `retired key version ${keyId}`);
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
    this.assertOpen();
    if (!Number.isSafeInteger(head.seq) || head.seq < 0 || typeof head.mac !== 'string' || head.mac.length === 0 || head.mac.length > 256) {
      throw new KeyStateError('An audit head needs a non-negative integer seq and a MAC string of at most 256 characters.');
    }
    await this.exclusive(async () => {
      const fresh = await this.freshManifest();
      const anchored = fresh.auditHead;
      if (anchored && anchored.seq === head.seq && anchored.mac === head.mac) return;
      if (anchored && head.seq < anchored.seq) {
        throw new KeyStateError(`The audit head to anchor (seq ${head.seq}) is behind the anchored one (seq ${anchored.seq}).`, {
          hint: 'The audit log was truncated or replaced: run `cachevault audit verify`.',
          context: { seq: head.seq, anchored: anchored.seq },
        });
      }
      const next = withAuditHead(fresh, head);
      await this.store.save(next);
      this.manifest = next;
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
      throw new NoKeyProviderError(`Could not derive the root subkey "${label}"`, [
        { provider: 'keyring', reason: 'no local root-key provider (keyring or env) is configured', hint: 'add "keyring" or "env" to keys.providers' },
      ]);
    }
    return local.deriveRootSubkey(label, { create: true });
  }

  /** Versions with states and ages, provider health and counters; never key material. */
  status(): KeyManagerStatus {
    const now = this.clock();
    const versions = [...this.manifest.versions, ...this.ephemeral.values()].map((v) => ({
      id: v.id,
      state: this.ephemeral.has(v.id) && v.id !== this.ephemeralActive ? KeyState.decryptOnly : v.state,
      createdAt: v.createdAt,
      ageDays: Math.floor((now - Date.parse(v.createdAt)) / DAY_MS),
      localOnly: v.localOnly,
      wrappedBy: v.wrapped.map((w) => w.provider),
      ephemeral: this.ephemeral.has(v.id),
    }));
    return {
      app: this.options.app,
      environment: this.options.environment,
      manifest: this.store.description,
      activeKeyId: this.ephemeralActive ?? activeVersion(this.manifest)?.id,
      versions,
      providers: this.chain.health(),
      stats: this.stats(),
    };
  }

  stats(): KeyManagerStats {
    return { fallbacks: this.chain.fallbacks, ...this.counters };
  }

  /** The manifest and every non-retired key, sealed under a passphrase or recovery code (see keyBackup.ts). */
  async exportBackup(passphrase: string, options: SealBackupOptions = {}): Promise<Buffer> {
    this.assertOpen();
    const manifest = await this.freshManifest();
    const keys: BackupKey[] = [];
    try {
      for (const version of manifest.versions) {
        if (version.state === KeyState.retired) continue;
        const key = await this.keyById(version.id);
        keys.push({ id: version.id, material: Buffer.from(key.material) });
      }
      const bytes = await sealBackup({ manifest, keys }, passphrase, options);
      this.options.audit?.append(AuditEvent.keysExported, { versions: keys.map((k) => k.id) });
      return bytes;
    } finally {
      for (const key of keys) key.material.fill(0);
    }
  }

  /**
   * Restores versions from a backup, wrapping each key again under this machine's providers.
   * Versions in the backup replace same-id ones; others are kept, demoted to decrypt-only when
   * the backup brings an active version. A wrong passphrase throws BackupPassphraseError; a
   * backup below today's scrypt floor needs `options.allowWeakKdf`.
   */
  async importBackup(bytes: Uint8Array, passphrase: string, options: OpenBackupOptions = {}): Promise<{ imported: string[]; activeKeyId: string | undefined }> {
    this.assertOpen();
    const contents = await openBackup(bytes, passphrase, options);
    try {
      const backup = contents.manifest;
      if (backup.app !== this.options.app || backup.environment !== this.options.environment) {
        throw new KeyStateError(
          `The backup holds keys of app "${backup.app}", environment "${backup.environment}", not "${this.options.app}"/"${this.options.environment}".`,
          { hint: 'Set keys.app and keys.environment to match the backup, or import it into the right deployment.' },
        );
      }
      const materials = new Map(contents.keys.map((k) => [k.id, k.material]));
      const restored: KeyVersionRecord[] = [];
      for (const version of backup.versions) {
        const material = materials.get(version.id);
        if (version.state === KeyState.retired || !material) {
          restored.push({ ...version, wrapped: [], state: KeyState.retired, retiredAt: version.retiredAt ?? new Date(this.clock()).toISOString() });
          continue;
        }
        const wrapped = await this.chain.wrapAll(material, this.context(version.id));
        restored.push({ ...version, wrapped, localOnly: !wrapped.some((w) => w.provider === 'kms') });
      }
      // As in addVersion: a shared manifest must not lose its KMS wrappings to a local-only copy.
      const localOnly = restored.filter((v) => v.state !== KeyState.retired && v.localOnly).map((v) => v.id);
      if (this.store.shared && localOnly.length > 0 && this.options.providers.some((p) => !isLocalProvider(p))) {
        throw new NoKeyProviderError(
          `Could not import key versions ${localOnly.join(', ')} into the shared manifest ${this.store.description}`,
          this.chain.health().filter((h) => h.down).map((h) => ({ provider: h.provider, reason: h.reason ?? 'unavailable', hint: 'restore access to KMS; a shared key version must be wrapped by KMS' })),
        );
      }
      await this.exclusive(async () => {
        const fresh = await this.freshManifest();
        const backupHasActive = restored.some((v) => v.state === KeyState.active);
        const kept = fresh.versions
          .filter((v) => !restored.some((r) => r.id === v.id))
          .map((v) => (backupHasActive && v.state === KeyState.active ? { ...v, state: KeyState.decryptOnly } : v));
        const next: KeyManifest = {
          ...fresh,
          revision: Math.max(fresh.revision, backup.revision) + 1,
          versions: [...kept, ...restored].sort((a, b) => Number(a.id.slice(1)) - Number(b.id.slice(1))),
        };
        await this.store.save(next);
        this.manifest = next;
      });
      for (const v of restored) this.cache.drop(v.id);
      const imported = restored.filter((v) => v.state !== KeyState.retired).map((v) => v.id);
      this.options.audit?.append(AuditEvent.keysImported, { versions: imported });
      return { imported, activeKeyId: activeVersion(this.manifest)?.id };
    } finally {
      for (const key of contents.keys) key.material.fill(0);
    }
  }

  /** Zeroes every cached key and root key; the manager cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    this.chain.close();
    (this.store as { close?: () => void }).close?.();
  }

  /** A summary without material: util.inspect would otherwise walk into the key cache. */
  [inspect.custom](): string {
    const active = this.ephemeralActive ?? activeVersion(this.manifest)?.id;
    return `KeyManager { app: ${this.options.app}, environment: ${this.options.environment}, manifest: ${this.store.description}, active: ${active ?? 'none'}, versions: ${this.manifest.versions.length} }`;
  }

  toJSON(): KeyManagerStatus {
    return this.status();
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

  private async loadActive(): Promise<DataKey> {
    if (this.clock() - this.manifestLoadedAt >= (this.options.manifestMaxAgeMs ?? 300_000)) {
      try {
        await this.reload();
      } catch (error) {
        // A store outage must not stop a client that already has a manifest: keep using it.
        if (this.manifest.versions.length === 0) throw error;
        this.manifestLoadedAt = this.clock();
        this.logger.warn({ manifest: this.store.description, error: (error as Error).message }, 'could not refresh the key manifest; using the copy in memory');
      }
    }
    const fallbackId = this.ephemeralActive;
    if (fallbackId === undefined) {
      const version = activeVersion(this.manifest);
      if (!version) return this.exclusive(() => this.addVersion('initial'));
      try {
        return this.remember(version.id, await this.unwrap(version));
      } catch (error) {
        if (!(error instanceof NoKeyProviderError)) throw error;
        return this.fallbackActive(error);
      }
    }
    // Running on a process-local key: go back to the shared one as soon as it unwraps again.
    const shared = activeVersion(this.manifest);
    if (shared) {
      try {
        const material = await this.unwrap(shared);
        this.logger.info({ keyId: shared.id }, `the shared active key ${shared.id} unwraps again; leaving the local fallback key`);
        this.ephemeralActive = undefined;
        return this.remember(shared.id, material);
      } catch (error) {
        if (!(error instanceof NoKeyProviderError)) throw error;
      }
    }
    const local = this.ephemeral.get(fallbackId)!;
    return this.remember(local.id, await this.unwrap(local));
  }

  /**
   * The active key cannot be unwrapped by any provider (KMS down, no local wrapping). A private
   * manifest gets a new local-only active version; a shared one must not (other machines could
   * not read it), so this process seals under a process-local key whose entries stay local.
   */
  private async fallbackActive(cause: NoKeyProviderError): Promise<DataKey> {
    if (!this.store.shared) return this.exclusive(() => this.addVersion('fallback'));
    const id = `local-${randomBytes(6).toString('hex')}`;
    let generated;
    try {
      generated = await this.chain.generate(this.context(id), false);
      this.counters.providerCalls += 1;
    } catch (error) {
      if (error instanceof NoKeyProviderError) throw new NoKeyProviderError('Could not get an active data key', [...cause.attempts, ...error.attempts], id, { cause: error });
      throw error;
    }
    this.ephemeral.set(id, { id, createdAt: new Date(this.clock()).toISOString(), state: KeyState.active, localOnly: true, wrapped: generated.wrapped });
    this.ephemeralActive = id;
    this.logger.warn(
      { keyId: id, sharedKeyId: activeVersion(this.manifest)?.id },
      'the shared active key cannot be unwrapped; sealing new entries under a process-local key (they must stay on local tiers)',
    );
    this.options.audit?.append(AuditEvent.keyGenerated, { keyId: id, reason: 'fallback', localOnly: true, shared: false, providers: generated.wrapped.map((w) => w.provider) });
    return this.remember(id, generated.plaintext);
  }

  private async addVersion(reason: 'initial' | 'rotate' | 'fallback', onPrevious?: (id: string | undefined) => void): Promise<DataKey> {
    const fresh = await this.freshManifest();
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
    if (this.store.shared && generated.localOnly && hasRemote) {
      generated.plaintext.fill(0);
      throw new NoKeyProviderError(
        `Could not create key version ${id} for the shared manifest ${this.store.description}`,
        this.chain.health().filter((h) => h.down).map((h) => ({ provider: h.provider, reason: h.reason ?? 'unavailable', hint: 'restore access to KMS; a shared key version must be wrapped by KMS' })),
        id,
      );
    }
    const record: KeyVersionRecord = {
      id,
      createdAt: new Date(this.clock()).toISOString(),
      state: KeyState.active,
      localOnly: generated.localOnly,
      wrapped: generated.wrapped,
    };
    const next = withNewActive(fresh, record);
    try {
      await this.store.save(next);
    } catch (error) {
      generated.plaintext.fill(0);
      throw error;
    }
    this.manifest = next;
    this.ephemeralActive = undefined;
    const providers = generated.wrapped.map((w) => w.provider);
    this.options.audit?.append(AuditEvent.keyGenerated, { keyId: id, reason, localOnly: generated.localOnly, providers });
    if (current) this.options.audit?.append(AuditEvent.keyRotated, { from: current.id, to: id, reason });
    if (generated.localOnly && hasRemote) {
      this.logger.warn({ keyId: id }, `key version ${id} is wrapped only by a local provider (KMS unavailable): rotate once KMS is back`);
    }
    this.logger.info({ keyId: id, reason, providers }, `created key version ${id}`);
    return this.remember(id, generated.plaintext);
  }

  private async loadById(id: string): Promise<DataKey> {
    const local = this.ephemeral.get(id);
    if (local) return this.remember(id, await this.unwrap(local));
    let version = findVersion(this.manifest, id);
    // Ids that cannot be in a manifest (another process's local fallback key, forged bytes) cost no reload.
    if (!version && isVersionId(id)) {
      const checkedAt = this.unknownIds.get(id);
      if (checkedAt === undefined || this.clock() - checkedAt >= (this.options.unknownKeyRetryMs ?? 60_000)) {
        // Bounded: entries under many forged ids must not grow memory without limit.
        if (this.unknownIds.size >= MAX_REMEMBERED_UNKNOWN_IDS) this.unknownIds.delete(this.unknownIds.keys().next().value!);
        this.unknownIds.delete(id);
        this.unknownIds.set(id, this.clock());
        await this.reload();
        version = findVersion(this.manifest, id);
      }
    }
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

  private unwrap(version: KeyVersionRecord): Promise<Buffer> {
    this.counters.providerCalls += 1;
    return this.chain.unwrap(version.wrapped, this.context(version.id));
  }

  private remember(id: string, material: Buffer): DataKey {
    this.cache.put(id, material);
    return this.cache.use(id) ?? { id, material };
  }

  private async freshManifest(): Promise<KeyManifest> {
    await this.reload();
    return this.manifest;
  }

  private reload(): Promise<KeyManifest> {
    return this.reloads.run('manifest', async () => {
      this.counters.manifestReloads += 1;
      const loaded = await this.store.load();
      if (loaded && (loaded.app !== this.options.app || loaded.environment !== this.options.environment)) {
        throw new ManifestError(
          `The key manifest at ${this.store.description} belongs to app "${loaded.app}", environment "${loaded.environment}", not "${this.options.app}"/"${this.options.environment}".`,
          { hint: 'Point keys.manifest at this deployment\'s manifest, or fix keys.app / keys.environment.' },
        );
      }
      this.manifest = loaded ?? emptyManifest(this.options.app, this.options.environment);
      this.manifestLoadedAt = this.clock();
      return this.manifest;
    });
  }
}
