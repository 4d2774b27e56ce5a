/**
 * A deploy, not only a synth: the real CDK CLI bootstraps moto and deploys the dev Data stack
 * (with the patches moto needs, listed by test/support/emulatorDeploy.ts), then the test reads back what was
 * created through each service's API and runs an application and the health Lambda against the
 * deployed table name, key and secret. DynamoDB requests go to DynamoDB Local (moto's DynamoDB is
 * only used to read back the table's definition); KMS and Secrets Manager to moto.
 *
 * The Operations stack is not deployed: moto implements neither the weak cross-stack reference
 * the stacks use (Fn::GetStackOutput) nor running Lambda code without Docker. Its template is
 * resolved instead with the deployed Data stack's physical ids, and the health function runs with
 * exactly that environment. Slow (synth, bootstrap, deploy): one test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetKeyRotationStatusCommand } from '@aws-sdk/client-kms';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { createCache } from '../../client/createCache';
import { TableManager } from '../../client/dynamodb/tableManager';
import { parseManifest } from '../../client/keys/keyManifest';
import { TableSchema } from '../../client/schema/tableSchema';
import { handler as healthHandler, observability as healthObservability, type HealthResult } from '../../lambda/health';
import { lambdaContext } from '../support/awsFakes';
import { testDynamoClient, testDynamoEndpoint } from '../support/dynamoTestTable';
import { deployDataStackToEmulator, stackResources, type EmulatorDeployResult } from '../support/emulatorDeploy';
import { motoKms, motoSdkEnv, motoSecrets, testMotoEndpoint, testMotoPort } from '../support/motoClients';
import { MOTO_ACCOUNT, MOTO_CREDENTIALS, MOTO_REGION } from '../support/motoServer';
import { operationsFunctionEnvironment, synthesizeEnvironment, type CfnTemplate, type DataResources } from '../support/synthesizedStacks';

jest.setTimeout(900_000);

const saved = { ...process.env };
afterAll(() => {
  process.env = saved;
});

describe('cdk deploy of the dev Data stack into moto', () => {
  it('creates the table with TTL on expiresAt, the rotating KMS keys and the manifest secret, which a createCache client and the health Lambda then use', async () => {
    const deployed: EmulatorDeployResult = await deployDataStackToEmulator({ port: testMotoPort(), envName: 'dev' });
    // Tags dropped from the three keys; the secret and the HMAC key made through their APIs.
    expect(deployed.patches).toHaveLength(5);

    const resources = await stackResources(testMotoPort(), deployed.stackName);
    const physical = (type: string, match: (id: string) => boolean = () => true) => {
      const found = Object.entries(resources).filter(([id, r]) => r.type === type && match(id));
      expect(found).toHaveLength(1);
      expect(found[0][1].status).toBe('CREATE_COMPLETE');
      return found[0][1].physicalId;
    };
    const tableName = physical('AWS::DynamoDB::Table');
    const wrappingKeyId = physical('AWS::KMS::Key', (id) => id.includes('Wrapping'));
    const storageKeyId = physical('AWS::KMS::Key', (id) => id.includes('Storage'));
    expect(tableName).toBe('cachevault-dev');

    // Read back through the services, not CloudFormation's word (moto's is lenient).
    const motoDynamo = new DynamoDBClient({ region: MOTO_REGION, endpoint: testMotoEndpoint(), credentials: MOTO_CREDENTIALS });
    const table = await motoDynamo.send(new DescribeTableCommand({ TableName: tableName }));
    expect(table.Table?.KeySchema).toEqual([
      { AttributeName: TableSchema.partitionKey, KeyType: 'HASH' },
      { AttributeName: TableSchema.sortKey, KeyType: 'RANGE' },
    ]);
    expect(table.Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    // moto's CloudFormation creates the table but does not apply TimeToLiveSpecification
    // (DescribeTimeToLive answers DISABLED), so TTL is checked in the template that was deployed;
    // DynamoDB Local below gets it from the client's TableManager, which the stack shares.
    const deployedTemplate = JSON.parse(readFileSync(join(deployed.assemblyDir, `${deployed.stackName}.template.json`), 'utf8')) as CfnTemplate;
    const tableResource = Object.values(deployedTemplate.Resources).find((r) => r.Type === 'AWS::DynamoDB::Table');
    expect(tableResource?.Properties?.TimeToLiveSpecification).toEqual({ AttributeName: TableSchema.ttlAttribute, Enabled: true });
    motoDynamo.destroy();

    const kms = motoKms();
    for (const keyId of [wrappingKeyId, storageKeyId]) {
      await expect(kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).resolves.toMatchObject({ KeyRotationEnabled: true });
    }
    // moto 5.2's DescribeKey fails (HTTP 500) on keys its CloudFormation created; the ARN is built
    // from the physical id, and the encrypt/decrypt round trips below prove the key is usable.
    const keyArn = (id: string) => `arn:aws:kms:${MOTO_REGION}:${MOTO_ACCOUNT}:key/${id}`;
    const wrappingKeyArn = keyArn(wrappingKeyId);
    const storageKeyArn = keyArn(storageKeyId);
    const manifestMacKeyArn = deployed.manifestMacKeyArn;
    kms.destroy();
    const sm = motoSecrets();
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'cachevault/cachevault/dev/key-manifest', VersionStage: 'AWSCURRENT' }))).resolves.toMatchObject({
      ARN: deployed.secretArn,
      SecretString: '{}',
    });

    // The table by the deployed name in DynamoDB Local, as the stack defines it (the client's own schema).
    const local = new TableManager({ client: testDynamoClient(), tableName, waitTimeoutMs: 30_000 });
    await local.create();
    expect((await local.describe()).ttl).toMatchObject({ attribute: TableSchema.ttlAttribute });
    const data: DataResources = {
      region: MOTO_REGION,
      account: MOTO_ACCOUNT,
      tableName,
      tableArn: `arn:aws:dynamodb:${MOTO_REGION}:${MOTO_ACCOUNT}:table/${tableName}`,
      secretArn: deployed.secretArn,
      wrappingKeyArn,
      storageKeyArn,
      manifestMacKeyArn,
    };
    try {
      // An application configured as docs/operations.md#connecting-applications says, from what was deployed.
      Object.assign(process.env, motoSdkEnv());
      const app = await createCache({
        env: {
          ...motoSdkEnv(),
          CACHEVAULT_BACKEND: 'dynamodb',
          CACHEVAULT_DYNAMODB_TABLE_NAME: tableName,
          CACHEVAULT_DYNAMODB_ENDPOINT: testDynamoEndpoint(),
          CACHEVAULT_KEYS_PROVIDERS: 'kms',
          CACHEVAULT_KEYS_APP: 'cachevault',
          CACHEVAULT_KEYS_ENVIRONMENT: 'dev',
          CACHEVAULT_KEYS_MANIFEST_STORE: 'secretsmanager',
          CACHEVAULT_KEYS_MANIFEST_SECRET_ID: deployed.secretArn,
          CACHEVAULT_KEYS_KMS_KEY_ID: wrappingKeyArn,
          CACHEVAULT_KEYS_KMS_MAC_KEY_ID: manifestMacKeyArn,
          CACHEVAULT_KEYS_WRAP_LOCALLY: 'false',
          CACHEVAULT_AUDIT_ENABLED: 'false',
          CACHEVAULT_LOGGING_LEVEL: 'silent',
        },
      });
      await app.cache.set('deployed', { ok: true });
      await expect(app.cache.get('deployed')).resolves.toEqual({ ok: true });
      await app.close();
      const manifest = await sm.send(new GetSecretValueCommand({ SecretId: deployed.secretArn, VersionStage: 'AWSCURRENT' }));
      const parsed = parseManifest(manifest.SecretString ?? '', 'deployed secret');
      expect(parsed.versions.map((v) => [v.id, v.wrapped.map((w) => w.wrappingKeyRef)])).toEqual([['k1', [wrappingKeyArn]]]);
      // Sealed with the deployed MAC key, as every client given CACHEVAULT_KEYS_KMS_MAC_KEY_ID writes it.
      expect(parsed.mac?.keyRef).toEqual(expect.stringMatching(new RegExp(`^kms:.*${manifestMacKeyArn.split('/').pop()}$`)));

      // The health function with the environment the Operations template gives it for these resources.
      const healthEnv = operationsFunctionEnvironment(synthesizeEnvironment('dev'), 'cachevault-health', data);
      expect(healthEnv).toMatchObject({ CACHEVAULT_DYNAMODB_TABLE_NAME: tableName, CACHEVAULT_KEYS_MANIFEST_SECRET_ID: deployed.secretArn, CACHEVAULT_KEYS_KMS_KEY_ID: wrappingKeyArn, CACHEVAULT_KEYS_KMS_MAC_KEY_ID: manifestMacKeyArn });
      process.env = { ...saved, ...healthEnv, ...motoSdkEnv(), CACHEVAULT_DYNAMODB_ENDPOINT: testDynamoEndpoint(), CACHEVAULT_LOGGING_LEVEL: 'silent' };
      healthObservability.logger.setLogLevel('SILENT');
      const scheduled = { version: '0', id: 'b0c3e0a2-0000-4000-8000-000000000000', 'detail-type': 'Scheduled Event', source: 'aws.scheduler', account: MOTO_ACCOUNT, time: new Date().toISOString(), region: MOTO_REGION, resources: [`arn:aws:scheduler:${MOTO_REGION}:${MOTO_ACCOUNT}:schedule/default/health`], detail: '{}' };
      const result = (await healthHandler(scheduled, lambdaContext('cachevault-dev-health'))) as HealthResult;
      expect(result.checks.filter((c) => !c.ok)).toEqual([]);
      expect(result).toMatchObject({ healthy: true, activeKeyId: 'k1' });
    } finally {
      sm.destroy();
      await local.delete().catch(() => undefined);
    }
  });
});
