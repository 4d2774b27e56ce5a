/**
 * The Data stack's resources made by hand for handler tests (the real `cdk deploy` is one slow
 * test of its own, test/aws/deployDataStack.test.ts): a wrapping key, a storage key and the
 * manifest's HMAC key in moto's KMS, the key-manifest secret holding the stack's `{}` placeholder in moto's Secrets Manager,
 * and the cache table in DynamoDB Local. Handlers then run with the environment the synthesized
 * Operations stack gives them, plus only the endpoint overrides that point AWS at loopback.
 */
import { TableManager } from '../../client/dynamodb/tableManager';
import type { EnvironmentName } from '../../lib/parameters';
import { testDynamoClient, testDynamoEndpoint } from './dynamoTestTable';
import { createManifestSecret, createMotoKey, motoKms, motoSdkEnv, motoSecrets, testMotoEndpoint, uniqueName } from './motoClients';
import { MOTO_ACCOUNT, MOTO_REGION } from './motoServer';
import { operationsFunctionEnvironment, synthesizeEnvironment, type DataResources } from './synthesizedStacks';

export interface MotoDeployment {
  readonly data: DataResources;
  /**
   * The process environment function `service` runs with: the template's variables, AWS SDK
   * endpoints on moto (DynamoDB on DynamoDB Local), test credentials, quiet logs. `extra` last.
   */
  handlerEnv(service: 'cachevault-health' | 'cachevault-rotate-keys' | 'cachevault-migrate', extra?: Record<string, string>): Record<string, string>;
}

export interface MotoDeploymentOptions {
  readonly envName?: EnvironmentName;
  /** Lambda function names the template refers to by Ref (rotate-keys -> migrate). */
  readonly functionNames?: Record<string, string>;
  /** SDK endpoint for KMS and Secrets Manager. @default the run's moto_server */
  readonly awsEndpoint?: () => string;
}

/** Creates the resources in beforeAll and deletes the table in afterAll. */
export function useMotoDeployment(options: MotoDeploymentOptions = {}): MotoDeployment {
  const envName = options.envName ?? 'dev';
  const state: { data?: DataResources; manager?: TableManager } = {};
  beforeAll(async () => {
    const kms = motoKms();
    const sm = motoSecrets();
    const client = testDynamoClient();
    const tableName = uniqueName(`cachevault-${envName}`);
    const manager = new TableManager({ client, tableName, waitTimeoutMs: 30_000 });
    await manager.create();
    state.manager = manager;
    state.data = {
      region: MOTO_REGION,
      account: MOTO_ACCOUNT,
      tableName,
      tableArn: `arn:aws:dynamodb:${MOTO_REGION}:${MOTO_ACCOUNT}:table/${tableName}`,
      secretArn: await createManifestSecret(sm, uniqueName(`cachevault/${envName}/key-manifest`)),
      wrappingKeyArn: await createMotoKey(kms, 'wraps the data keys'),
      storageKeyArn: await createMotoKey(kms, 'at rest'),
      manifestMacKeyArn: await createMotoKey(kms, 'MACs the key manifest', 'hmac'),
    };
    kms.destroy();
    sm.destroy();
  });
  afterAll(async () => {
    await state.manager?.delete().catch(() => undefined);
  });
  const data = (): DataResources => {
    if (!state.data) throw new Error('useMotoDeployment(): resources are created in beforeAll.');
    return state.data;
  };
  return {
    get data() {
      return data();
    },
    handlerEnv(service, extra = {}) {
      const template = operationsFunctionEnvironment(synthesizeEnvironment(envName), service, data(), options.functionNames ?? {});
      return {
        ...template,
        ...motoSdkEnv(options.awsEndpoint?.() ?? testMotoEndpoint()),
        // The client's own DynamoDB endpoint setting, and the SDK's, both to DynamoDB Local.
        CACHEVAULT_DYNAMODB_ENDPOINT: testDynamoEndpoint(),
        AWS_ENDPOINT_URL_DYNAMODB: testDynamoEndpoint(),
        CACHEVAULT_LOGGING_LEVEL: 'silent',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
        ...extra,
      };
    },
  };
}
