import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCache } from '../../client/createCache';
import { awsError, fakeKms, KMS_KEY_ARN } from '../unit/keys/fakes';
import { useDynamoTestTable } from '../support/dynamoTestTable';

const table = useDynamoTestTable('cv-localonly');

/**
 * With KMS among the providers, a key made while KMS is down is wrapped only locally: other
 * machines cannot unwrap it, so entries sealed under it must stay off the shared DynamoDB tier.
 */
describe('createCache with KMS configured and KMS down', () => {
  test('entries sealed under a local-only key stay in the local tiers, off the shared table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-localonly-'));
    const kms = fakeKms();
    kms.failWith(awsError('NetworkingError'));
    const options = {
      cwd: dir,
      env: {},
      options: {
        backend: 'hybrid' as const,
        hybrid: { tiers: ['memory', 'file', 'dynamodb'] as ('memory' | 'file' | 'dynamodb')[] },
        file: { dir: join(dir, 'cache') },
        dynamodb: { tableName: table.tableName, endpoint: table.endpoint },
        keys: { providers: ['kms', 'env'] as ('kms' | 'env')[], kms: { keyId: KMS_KEY_ARN } },
        logging: { level: 'silent' as const },
      },
      keyProviderDeps: { kmsClient: kms.client, env: { CACHEVAULT_KEY: randomBytes(32).toString('base64') } },
    };
    const vault = await createCache(options);
    try {
      await vault.cache.set('during-outage', 'local only');
      expect(await vault.cache.get('during-outage')).toBe('local only');
      const stored = await vault.backend.get('default', 'during-outage');
      expect(vault.keys!.isLocalOnly(stored!.keyId)).toBe(true);
      const shared = await table.client.send(new (await import('@aws-sdk/client-dynamodb')).ScanCommand({ TableName: table.tableName }));
      expect((shared.Items ?? []).some((item) => item.k?.S === 'during-outage')).toBe(false);
    } finally {
      await vault.close();
    }
  });
});
