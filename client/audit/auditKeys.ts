import { createHmac, hkdfSync } from 'node:crypto';
import { isVersionId } from '../keys/keyManifest';
import { RootSubkeyLabel } from '../keys/rootKey';
import type { DataKey } from '../keys/keyProvider';
import type { AuditAnchor, AuditHead, AuditKeySource, AuditMacKey } from './auditLog';

/**
 * The audit log's MAC keys and anchor, from the key hierarchy (the KeyManager), never from a
 * file beside the log.
 *
 * - **With a local root key** (`keyring` or `env` among the providers): one key for the life of
 *   the root key, the HKDF subkey labelled `audit-mac` (client/keys/rootKey.ts). Its id,
 *   `root:<16 hex>`, is a MAC of a fixed label under it, so a log from another machine (another
 *   root key) reads as "not this client's key" rather than as forged.
 * - **KMS only** (or the root key out of reach at that moment): an HKDF-SHA-256 subkey of the
 *   active data key version (info binds app, environment and version id), recorded as `kN`. The key changes with each rotation; a record
 *   under a version since retired can no longer have its own MAC checked, but the hash chain
 *   carries it into the MAC of every later record (and retiring appends one).
 *
 * The anchor is the `auditHead` of the key manifest, covered by the manifest's MAC. It is used
 * only with a manifest this machine alone writes (the file store): a shared manifest (Secrets
 * Manager) serves many machines, each with its own log, and has one head.
 */

/** What the audit needs from a KeyManager (an interface, so tests and other sources can provide it). */
export interface AuditKeyHierarchy {
  readonly app: string;
  readonly environment: string;
  /** The manifest's active version id (not a process-local fallback key), if any. */
  activeVersionId(): string | undefined;
  keyById(id: string): Promise<DataKey>;
  /** Only when a local root-key provider is configured. */
  deriveRootSubkey?(label: string): Promise<Buffer>;
}

const ROOT_ID_PREFIX = 'root:';
const DATA_KEY_INFO = 'cachevault audit mac v1';

export function auditKeysFrom(keys: AuditKeyHierarchy): AuditKeySource {
  const fromRoot = async (): Promise<AuditMacKey> => {
    const key = await keys.deriveRootSubkey!(RootSubkeyLabel.auditMac);
    return { id: `${ROOT_ID_PREFIX}${createHmac('sha256', key).update('cachevault audit key id v1').digest('hex').slice(0, 16)}`, key };
  };
  const fromDataKey = async (id: string): Promise<AuditMacKey> => {
    const dataKey = await keys.keyById(id);
    // The data key's Buffer belongs to the KeyManager (zeroed when it leaves its cache): derive at once, keep only the subkey.
    const info = Buffer.from(JSON.stringify([DATA_KEY_INFO, keys.app, keys.environment, id]), 'utf8');
    return { id, key: Buffer.from(hkdfSync('sha256', dataKey.material, Buffer.alloc(0), info, 32)) };
  };
  return {
    async current() {
      const active = keys.activeVersionId();
      if (keys.deriveRootSubkey) {
        try {
          return await fromRoot();
        } catch (error) {
          // The root key is out of reach here (a keyring with no session): a data-key subkey still
          // authenticates the record, and verify reads either kind.
          if (active === undefined) throw error;
        }
      }
      return active === undefined ? undefined : fromDataKey(active);
    },
    async byId(id) {
      if (id.startsWith(ROOT_ID_PREFIX)) {
        if (!keys.deriveRootSubkey) return undefined;
        const mine = await fromRoot();
        if (mine.id === id) return mine;
        mine.key.fill(0);
        return undefined;
      }
      return isVersionId(id) ? fromDataKey(id) : undefined;
    },
  };
}

/** The head anchored in the key manifest (KeyManager.auditHead / updateAuditHead). */
export function manifestAuditAnchor(keys: { auditHead(): AuditHead | undefined; updateAuditHead(head: AuditHead): Promise<void> }): AuditAnchor {
  return {
    read: async () => keys.auditHead(),
    write: (head) => keys.updateAuditHead(head),
  };
}

/** What `auditKeysFromKeyManager` uses of a KeyManager. */
export interface AuditKeyManager {
  status(): { readonly app: string; readonly environment: string; readonly versions: readonly { readonly id: string; readonly state: string; readonly ephemeral: boolean }[] };
  keyById(id: string): Promise<DataKey>;
  deriveRootSubkey(label: string): Promise<Buffer>;
}

/**
 * The audit keys of a KeyManager. `localRoot`: a local root-key provider (keyring or env) is
 * configured, so the root subkey is used; otherwise the active data key's.
 */
export function auditKeysFromKeyManager(manager: AuditKeyManager, options: { localRoot: boolean }): AuditKeySource {
  const { app, environment } = manager.status();
  return auditKeysFrom({
    app,
    environment,
    activeVersionId: () => manager.status().versions.find((v) => v.state === 'active' && !v.ephemeral)?.id,
    keyById: (id) => manager.keyById(id),
    ...(options.localRoot ? { deriveRootSubkey: (label: string) => manager.deriveRootSubkey(label) } : {}),
  });
}
