import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../fs/atomicWrite';
import { KeyProviderError, ManifestIntegrityError, ManifestIntegrityFailure } from './errors';
import type { LocalRootKeyProvider } from './keyProvider';
import { RootSubkeyLabel } from './rootKey';

/**
 * The highest manifest revision a machine has seen, per manifest, and whether it was sealed. A
 * client refuses a manifest with a lower revision (a rollback: a retired or compromised version
 * revived) and an unsealed one where a sealed one was seen (a downgrade), and treats a missing
 * manifest where keys existed as an error, never as a reason to create a fresh `k1`.
 *
 * Persisted beside the cache directory and MACed under the `revision-pin` subkey of the local
 * root key, so a writer of that directory cannot lower it unnoticed. It can delete it, which
 * only forgets what this machine saw: the running process still holds the pin in memory.
 */
export interface RevisionPin {
  readonly revision: number;
  readonly sealed: boolean;
}

export interface RevisionPinStore {
  readonly description: string;
  /** The pin for `manifest` (a store description), or `undefined` when none was recorded. */
  load(manifest: string): Promise<RevisionPin | undefined>;
  save(manifest: string, pin: RevisionPin): Promise<void>;
  /** The same store for another root key (after `rotateRoot`), and removal of this key's pins. */
  forRootKey?(provider: LocalRootKeyProvider): RevisionPinStore;
  remove?(): Promise<void>;
}

/**
 * Pin files live beside the cache directory like the manifest, one per root key
 * (`keys.revision-pin.<fingerprint>.json`), so machines or users sharing a directory with
 * different root keys never overwrite each other's pin.
 */
export function defaultRevisionPinDir(cacheDir: string): string {
  return dirname(resolve(cacheDir));
}

interface PinFile {
  readonly format: 'cachevault-revision-pin';
  readonly formatVersion: 1;
  readonly pins: Record<string, RevisionPin>;
  /** The root key it is MACed under (`<provider ref>#<fingerprint>`), so a wrong key is named as such. */
  readonly keyRef: string;
  readonly mac: string;
}

const PIN_MAC_DOMAIN = 'cachevault revision pin v1\n';

/** The pin file of one root key, MACed under its `revision-pin` subkey. */
export class FileRevisionPinStore implements RevisionPinStore {
  readonly dir: string;
  private readonly provider: LocalRootKeyProvider;
  private resolvedPath: string | undefined;

  constructor(dir: string, provider: LocalRootKeyProvider) {
    this.dir = resolve(dir);
    this.provider = provider;
  }

  get description(): string {
    return this.resolvedPath ?? join(this.dir, 'keys.revision-pin.<root key fingerprint>.json');
  }

  forRootKey(provider: LocalRootKeyProvider): FileRevisionPinStore {
    return new FileRevisionPinStore(this.dir, provider);
  }

  /** Deletes this root key's pin file (after the root key was replaced). */
  async remove(): Promise<void> {
    rmSync(await this.path(), { force: true });
  }

  /** The pin file of the configured root key. */
  async path(create = false): Promise<string> {
    const ref = await this.provider.rootKeyRef({ create });
    const fingerprint = ref.slice(ref.lastIndexOf('#') + 1).replace(/[^0-9a-f]/g, '');
    this.resolvedPath = join(this.dir, `keys.revision-pin.${fingerprint}.json`);
    return this.resolvedPath;
  }

  async load(manifest: string): Promise<RevisionPin | undefined> {
    const file = await this.readVerified();
    return file?.[manifest];
  }

  async save(manifest: string, pin: RevisionPin): Promise<void> {
    const pins = { ...((await this.readVerified()) ?? {}), [manifest]: { revision: pin.revision, sealed: pin.sealed } };
    const mac = await this.mac(pins, true);
    const file: PinFile = { format: 'cachevault-revision-pin', formatVersion: 1, pins, keyRef: await this.provider.rootKeyRef({ create: true }), mac };
    const path = await this.path(true);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileAtomicSync(path, `${JSON.stringify(file, null, 2)}\n`, { flush: 'data' });
  }

  private async readVerified(): Promise<Record<string, RevisionPin> | undefined> {
    let path: string;
    try {
      path = await this.path();
    } catch (error) {
      // No usable root key here (none in the keyring yet, the variable unset): no pin can be
      // read; the manifest check or the first key use names the problem.
      if (error instanceof KeyProviderError) return undefined;
      throw error;
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const tampered = () =>
      new ManifestIntegrityError(ManifestIntegrityFailure.tampered, `The key revision pin at ${path} does not verify: it was changed by someone without the root key.`, {
        hint: 'Someone may be trying to roll the key manifest back. If you trust the current manifest, delete the pin file; it is written again on the next run.',
        context: { where: path },
      });
    let file: PinFile;
    try {
      file = JSON.parse(text) as PinFile;
    } catch {
      throw tampered();
    }
    if (file?.format !== 'cachevault-revision-pin' || file.formatVersion !== 1 || typeof file.pins !== 'object' || file.pins === null || typeof file.mac !== 'string') throw tampered();
    if (file.keyRef !== (await this.provider.rootKeyRef())) throw tampered();
    const expected = Buffer.from(await this.mac(file.pins, false), 'base64');
    const stored = Buffer.from(file.mac, 'base64');
    if (stored.length !== expected.length || !timingSafeEqual(stored, expected)) throw tampered();
    return file.pins;
  }

  private async mac(pins: Record<string, RevisionPin>, create: boolean): Promise<string> {
    const canonical = Object.keys(pins)
      .sort()
      .map((k) => [k, pins[k]!.revision, pins[k]!.sealed]);
    const subkey = await this.provider.deriveRootSubkey(RootSubkeyLabel.revisionPin, { create });
    try {
      return createHmac('sha256', subkey).update(PIN_MAC_DOMAIN).update(JSON.stringify(canonical)).digest('base64');
    } finally {
      subkey.fill(0);
    }
  }
}
