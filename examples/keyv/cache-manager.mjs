/* global console, process */
// cachevault as the Keyv store of cache-manager v7: `node examples/keyv/cache-manager.mjs`.
//
// The cache is configured as usual (here: the file tier in ./cache, its data key wrapped by the
// root key in CACHEVAULT_KEY); cache-manager sees an ordinary Keyv store, and what reaches disk is
// sealed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createCache as createCacheManager } from 'cache-manager';
import Keyv from 'keyv';
import { createCache } from 'cachevault';
import { KeyvCacheVaultStore } from 'cachevault/keyv';

const vault = await createCache({ backend: 'file', file: { dir: './cache' }, keys: { providers: ['env'] } });
const cache = createCacheManager({ stores: [new Keyv({ store: new KeyvCacheVaultStore({ cache: vault }) })] });

let computed = 0;
const buildReport = async () => {
  computed += 1;
  return { total: 42, note: 'quarterly-report-plaintext' };
};

const first = await cache.wrap('report:today', buildReport, 3_600_000);
const second = await cache.wrap('report:today', buildReport, 3_600_000);
await cache.disconnect();
await vault.close();

// Every byte under the cache directory: the report's text must not be among them.
const files = (dir) => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]));
const plaintextOnDisk = files('./cache').some((f) => readFileSync(f).includes('quarterly-report-plaintext'));

console.log(`computed=${computed} same=${JSON.stringify(first) === JSON.stringify(second)} total=${second.total} plaintextOnDisk=${plaintextOnDisk}`);
process.exitCode = computed === 1 && !plaintextOnDisk ? 0 : 1;
