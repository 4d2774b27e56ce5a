import { runExample } from '../support/runExample';

/** The Keyv examples of docs/integrations.md (examples/keyv), run as a reader runs them. */
describe('the Keyv examples', () => {
  test('examples/keyv/cache-manager.mjs: cache-manager v7 wraps through cachevault, computes once and leaves no plaintext on disk', () => {
    expect(runExample('keyv/cache-manager.mjs').trim()).toBe('computed=1 same=true total=42 plaintextOnDisk=false');
  });

  test('examples/keyv/keyv-tier.mjs: a Keyv Map store as a cachevault backend holds only sealed values', () => {
    expect(runExample('keyv/keyv-tier.mjs').trim()).toBe('name=Ada missing=true storeEntries=1 plaintextInStore=false hits=1 misses=1');
  });
});
