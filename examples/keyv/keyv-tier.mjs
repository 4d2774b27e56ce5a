/* global console, process */
// Any Keyv store as a cachevault tier: `node examples/keyv/keyv-tier.mjs`.
//
// Keyv's in-memory Map stands in for `@keyv/redis` or `@keyv/postgres` (pass `shared: true` for
// a store other machines see). cachevault seals each value before the store gets it, checks
// expiry and counts hits; the store only ever holds ciphertext.
import { randomBytes } from 'node:crypto';
import Keyv from 'keyv';
import { CacheManager } from 'cachevault';
import { AeadEncryption } from 'cachevault/crypto';
import { KeyvBackend } from 'cachevault/keyv';
import { StaticKeySource } from 'cachevault/keys';

const store = new Map();
const backend = new KeyvBackend({ keyv: new Keyv({ store }), shared: false });
// A fixed key for the example; an app takes its keys from createCache's key manager (KMS, keyring).
const encryption = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]) });
const cache = new CacheManager({ backend, encryption });

await cache.set('user:42', { name: 'Ada', card: '4111-plaintext' }, { ttlMs: 60_000 });
const user = await cache.get('user:42');
const missing = await cache.get('user:43');
const plaintextInStore = [...store.values()].some((v) => String(v).includes('4111-plaintext'));
const stats = cache.stats();
await cache.close();

console.log(`name=${user?.name} missing=${missing === undefined} storeEntries=${store.size} plaintextInStore=${plaintextInStore} hits=${stats.hits} misses=${stats.misses}`);
process.exitCode = user?.name === 'Ada' && !plaintextInStore ? 0 : 1;
