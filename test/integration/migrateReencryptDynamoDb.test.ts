import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { AeadEncryption } from '../../client/crypto/aeadEncryption';
import { NoEncryption } from '../../client/crypto/noEncryption';
import { StaticKeySource } from '../../client/keys/staticKeySource';
import { reencryptInPlace } from '../../client/migrate/reencrypt';
import type { StoredEntry } from '../../client/types';
import { useDynamoTestTable } from '../support/dynamoTestTable';

const ENTRIES = 2000;

describe('re-encrypting a DynamoDB Local table in place', () => {
  const table = useDynamoTestTable('cv-reencrypt');
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-reencrypt-ddb-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a rotation sweep over parallel scan segments leaves every entry under the new key with its value', async () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const before = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: k1 }]) });
    // The sweep that encrypts old plaintext is the one reader allowed to open it.
    const after = new AeadEncryption({ keys: new StaticKeySource([{ id: 'k1', material: k1 }, { id: 'k2', material: k2 }], 'k2'), allowUnencryptedReads: true });
    const plain = new NoEncryption();
    const backend = new DynamoDBBackend({ tableName: table.tableName, client: table.client });
    try {
      const entries: StoredEntry[] = [];
      const now = Date.now();
      for (let i = 0; i < ENTRIES; i++) {
        const identity = { namespace: `ns${i % 3}`, key: `k-${i}`, expiresAt: i % 4 === 0 ? null : now + 3_600_000 };
        // A tenth written before encryption was enabled; the rest under k1.
        const sealed = await (i % 10 === 0 ? plain : before).seal(Buffer.from(`value ${i}`), identity);
        entries.push({ ...identity, value: sealed.bytes, keyId: sealed.keyId, createdAt: now });
      }
      for (let i = 0; i < entries.length; i += 500) await backend.setMany(entries.slice(i, i + 500));

      const report = await reencryptInPlace({
        backend,
        open: after,
        seal: after,
        shouldRewrite: (e) => e.keyId !== 'k2',
        stateDir: dir,
        description: 'rotate to k2 and encrypt the rest',
      });

      expect(report.counts).toMatchObject({ scanned: ENTRIES, rewritten: ENTRIES, failed: 0, skippedChanged: 0 });
      expect(report.counts.keyIdsBefore).toEqual({ none: ENTRIES / 10, k1: ENTRIES - ENTRIES / 10 });
      expect(report.counts.keyIdsAfter).toEqual({ k2: ENTRIES });
      let seen = 0;
      for await (const e of backend.entries({ pageSize: 250 })) {
        seen += 1;
        expect(e.keyId).toBe('k2');
        expect(Buffer.from(await after.open(e.value, e)).toString()).toBe(`value ${e.key.slice(2)}`);
      }
      expect(seen).toBe(ENTRIES);
    } finally {
      await backend.close();
    }
  }, 180_000);
});
