import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { keyManifestSecretName, TableSchema } from '../../../client/schema/tableSchema';
import { addCacheVaultStacks } from '../../../lib/cacheVaultApp';
import { ENVIRONMENT_NAMES, parametersFor, type EnvironmentName } from '../../../lib/parameters';
import { normalisedTemplate, policyStatements } from './templateHelpers';

function dataTemplate(env: EnvironmentName): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return Template.fromStack(addCacheVaultStacks(app, parametersFor(env)).data);
}

const logicalIdOf = (template: Template, type: string, props: object): string => {
  const found = Object.keys(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(found).toHaveLength(1);
  return found[0];
};

describe.each(ENVIRONMENT_NAMES)('data stack (%s)', (env) => {
  const template = dataTemplate(env);
  const params = parametersFor(env);
  const storageKeyId = () => logicalIdOf(template, 'AWS::KMS::Key', { Description: Match.stringLikeRegexp('encrypts the table') });
  const wrappingKeyId = () => logicalIdOf(template, 'AWS::KMS::Key', { Description: Match.stringLikeRegexp('wraps the cache') });
  const macKeyId = () => logicalIdOf(template, 'AWS::KMS::Key', { Description: Match.stringLikeRegexp('MACs the key manifest') });

  it("creates the cache table with the client's key schema and TTL on expiresAt", () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: params.tableName,
      KeySchema: [
        { AttributeName: TableSchema.partitionKey, KeyType: 'HASH' },
        { AttributeName: TableSchema.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('encrypts the table with the customer-managed storage key', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [storageKeyId(), 'Arn'] } },
    });
  });

  it('creates three KMS keys: the two symmetric ones with automatic rotation, and the manifest MAC key', () => {
    template.resourceCountIs('AWS::KMS::Key', 3);
    for (const id of [storageKeyId(), wrappingKeyId()]) {
      expect(template.toJSON().Resources[id].Properties.EnableKeyRotation).toBe(true);
      expect(template.toJSON().Resources[id].Properties.KeySpec).toBeUndefined();
    }
  });

  it('creates the manifest MAC key as an HMAC_256 key for GENERATE_VERIFY_MAC, aliased per app and environment', () => {
    const props = template.toJSON().Resources[macKeyId()].Properties;
    expect(props.KeySpec).toBe('HMAC_256');
    expect(props.KeyUsage).toBe('GENERATE_VERIFY_MAC');
    // KMS cannot rotate HMAC keys; asking would fail the deployment.
    expect(props.EnableKeyRotation).toBe(false);
    expect(props.PendingWindowInDays).toBe(params.retention === 'retain' ? 30 : 7);
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: `alias/cachevault/${env}/manifest-mac`, TargetKeyId: { 'Fn::GetAtt': [macKeyId(), 'Arn'] } });
    // Only this account's principals (through IAM) may use it: no service or other principal in the key policy.
    const statements = template.toJSON().Resources[macKeyId()].Properties.KeyPolicy.Statement as Array<Record<string, unknown>>;
    expect(statements).toEqual([
      {
        Action: 'kms:*',
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } },
        Resource: '*',
      },
    ]);
  });

  it('outputs the manifest MAC key ARN for CACHEVAULT_KEYS_KMS_MAC_KEY_ID', () => {
    template.hasOutput('ManifestMacKeyArn', { Value: { 'Fn::GetAtt': [macKeyId(), 'Arn'] }, Description: Match.stringLikeRegexp('^CACHEVAULT_KEYS_KMS_MAC_KEY_ID') });
  });

  it.each([
    ['read-only', /read cache entries and unwrap/],
    ['read-write', /read and write cache entries/],
  ])('lets the %s client policy only verify the manifest MAC (VerifyMac, HMAC_SHA_256), never make one', (_name, description) => {
    const statements = policyStatements(template, 'AWS::IAM::ManagedPolicy', description);
    const onMacKey = statements.filter((s) => JSON.stringify(s.Resource).includes(macKeyId()));
    expect(onMacKey).toEqual([
      { Action: 'kms:VerifyMac', Condition: { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } }, Effect: 'Allow', Resource: { 'Fn::GetAtt': [macKeyId(), 'Arn'] } },
    ]);
    expect(statements.flatMap((s) => [s.Action].flat())).not.toContain('kms:GenerateMac');
  });

  it("lets CloudWatch use the storage key only for this account's alarms (aws:SourceAccount and aws:SourceArn)", () => {
    const statements = (template.toJSON().Resources[storageKeyId()].Properties.KeyPolicy.Statement as Array<Record<string, unknown>>).filter(
      (st) => JSON.stringify(st.Principal).includes('cloudwatch.amazonaws.com'),
    );
    expect(statements).toHaveLength(1);
    expect(statements[0].Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:*']] } },
    });
    // The wrapping key is not CloudWatch's to use at all.
    expect(JSON.stringify(template.toJSON().Resources[wrappingKeyId()].Properties.KeyPolicy)).not.toContain('cloudwatch');
  });

  it('bills the table as the environment says', () => {
    const table = Object.values(template.findResources('AWS::DynamoDB::Table'))[0] as { Properties: Record<string, unknown> };
    if (params.billing.mode === 'PROVISIONED') {
      expect(table.Properties.BillingMode).toBeUndefined();
      expect(table.Properties.ProvisionedThroughput).toEqual({
        ReadCapacityUnits: params.billing.readCapacity,
        WriteCapacityUnits: params.billing.writeCapacity,
      });
    } else {
      expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.Properties.ProvisionedThroughput).toBeUndefined();
    }
  });

  it(`${params.retention === 'retain' ? 'retains' : 'destroys'} the table, keys and secret with the stack`, () => {
    const policy = params.retention === 'retain' ? 'Retain' : 'Delete';
    for (const type of ['AWS::DynamoDB::Table', 'AWS::KMS::Key', 'AWS::SecretsManager::Secret']) {
      for (const resource of Object.values(template.findResources(type))) {
        expect(resource).toMatchObject({ DeletionPolicy: policy, UpdateReplacePolicy: policy });
      }
    }
    const table = Object.values(template.findResources('AWS::DynamoDB::Table'))[0] as { Properties: Record<string, unknown> };
    expect(table.Properties.DeletionProtectionEnabled).toBe(params.retention === 'retain');
  });

  it('creates the key-manifest secret under the shared naming convention, encrypted with the storage key', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: keyManifestSecretName('cachevault', env),
      KmsKeyId: { 'Fn::GetAtt': [storageKeyId(), 'Arn'] },
      SecretString: '{}',
    });
  });

  it('encrypts the alarm topic and refuses plain-HTTP publishing', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [storageKeyId(), 'Arn'] } });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('alarms on DynamoDB throttled requests and system errors, notifying the topic', () => {
    const topic = { Ref: logicalIdOf(template, 'AWS::SNS::Topic', {}) };
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('throttling requests'),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([Match.objectLike({ MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'ThrottledRequests' }) }) })]),
      AlarmActions: [topic],
      OKActions: [topic],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('system errors'),
      Threshold: 1,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([Match.objectLike({ MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'SystemErrors' }) }) })]),
      AlarmActions: [topic],
    });
  });

  it('gives the read-only client policy exactly the read actions, and unwrap only in its own encryption context', () => {
    const statements = policyStatements(template, 'AWS::IAM::ManagedPolicy', /read cache entries and unwrap/);
    expect(statements).toEqual([
      {
        Action: [
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:Scan',
          'dynamodb:DescribeTable',
          'dynamodb:DescribeTimeToLive',
        ],
        Effect: 'Allow',
        Resource: expect.anything(),
      },
      {
        Action: ['kms:Decrypt', 'kms:DescribeKey'],
        Condition: { StringEquals: { 'kms:ViaService': expect.anything() } },
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [storageKeyId(), 'Arn'] },
      },
      { Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Effect: 'Allow', Resource: expect.anything() },
      {
        Action: 'kms:Decrypt',
        Condition: { StringEquals: { 'kms:ViaService': expect.anything() } },
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [storageKeyId(), 'Arn'] },
      },
      {
        Action: 'kms:Decrypt',
        Condition: { StringEquals: { 'kms:EncryptionContext:app': 'cachevault', 'kms:EncryptionContext:env': env } },
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [wrappingKeyId(), 'Arn'] },
      },
      {
        Action: 'kms:VerifyMac',
        Condition: { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } },
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [macKeyId(), 'Arn'] },
      },
    ]);
  });

  it('gives the read-write client policy the write actions too, but no way to create data keys', () => {
    const statements = policyStatements(template, 'AWS::IAM::ManagedPolicy', /read and write cache entries/);
    expect(statements[0].Action).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']));
    const onWrappingKey = statements.filter((s) => JSON.stringify(s.Resource).includes(wrappingKeyId()));
    expect(onWrappingKey.map((s) => s.Action)).toEqual(['kms:Decrypt']);
  });

  it('grants no wildcard action in any IAM policy', () => {
    const actions = [
      ...policyStatements(template, 'AWS::IAM::ManagedPolicy'),
      ...policyStatements(template, 'AWS::IAM::Policy'),
    ].flatMap((s) => [s.Action].flat());
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((a) => String(a).includes('*'))).toEqual([]);
  });
});

it('the prod data stack matches its snapshot', () => {
  expect(normalisedTemplate(dataTemplate('prod'))).toMatchSnapshot();
});
