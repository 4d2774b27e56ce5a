import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../fs/atomicWrite';
import { KeyProviderError, KeyProviderFailure, ManifestIntegrityError, ManifestIntegrityFailure, RootKeyMismatchError } from './errors';
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
}

/** File name of the pin file, beside the cache directory like the manifest. */
export const REVISION_PIN_FILE_NAME = 'keys.revision-pin.json';

export function defaultRevisionPinPath(cacheDir: string): string {
  return join(dirname(resolve(cacheDir)), REVISION_PIN_FILE_NAME);
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

/** The pin file, MACed under a local root key's `revision-pin` subkey. */
export class FileRevisionPinStore implements RevisionPinStore {
  readonly path: string;
  private readonly provider: LocalRootKeyProvider;

  constructor(path: string, provider: LocalRootKeyProvider) {
    this.path = resolve(path);
    this.provider = provider;
  }

  get description(): string {
    return this.path;
  }

  async load(manifest: string): Promise<RevisionPin | undefined> {
    const file = await this.readVerified();
    return file?.[manifest];
  }

  async save(manifest: string, pin: RevisionPin): Promise<void> {
    const pins = { ...((await this.readVerified()) ?? {}), [manifest]: { revision: pin.revision, sealed: pin.sealed } };
    const mac = await this.mac(pins, true);
    const file: PinFile = { format: 'cachevault-revision-pin', formatVersion: 1, pins, keyRef: await this.provider.rootKeyRef({ create: true }), mac };
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    writeFileAtomicSync(this.path, `${JSON.stringify(file, null, 2)}\n`, { flush: 'data' });
  }

  private async readVerified(): Promise<Record<string, RevisionPin> | undefined> {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const tampered = () =>
      new ManifestIntegrityError(ManifestIntegrityFailure.tampered, `The key revision pin at ${this.path} does not verify: it was changed by someone without the root key.`, {
        hint: 'Someone may be trying to roll the key manifest back. If you trust the current manifest, delete the pin file; it is written again on the next run.',
        context: { where: this.path },
      });
    let file: PinFile;
    try {
      file = JSON.parse(text) as PinFile;
    } catch {
      throw tampered();
    }
    if (file?.format !== 'cachevault-revision-pin' || file.formatVersion !== 1 || typeof file.pins !== 'object' || file.pins === null || typeof file.mac !== 'string') throw tampered();
    let ours: string;
    try {
      ours = await this.provider.rootKeyRef();
    } catch (error) {
      if (error instanceof KeyProviderError && error.failure === KeyProviderFailure.noRootKey) {
        throw new RootKeyMismatchError(`The key revision pin at ${this.path} was written under a ${this.provider.name} root key this machine does not have`, undefined, { cause: error });
      }
      throw error;
    }
    if (file.keyRef !== ours) {
      throw new RootKeyMismatchError(`The key revision pin at ${this.path} was written under another ${this.provider.name} root key`);
    }
    for (const pin of Object.values(file.pins)) {
      if (!Number.isSafeInteger(pin?.revision) || pin.revision < 0 || typeof pin.sealed !== 'boolean') throw tampered();
    }
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
