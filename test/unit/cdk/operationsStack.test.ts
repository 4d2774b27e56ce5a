import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { addCacheVaultStacks } from '../../../lib/cacheVaultApp';
import { ENVIRONMENT_NAMES, parametersFor, type EnvironmentName } from '../../../lib/parameters';
import { normalisedTemplate, policyStatements, type Statement } from './templateHelpers';

function operationsTemplate(env: EnvironmentName): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return Template.fromStack(addCacheVaultStacks(app, parametersFor(env)).operations);
}

type Resource = { Properties: Record<string, unknown> };

describe.each(ENVIRONMENT_NAMES)('operations stack (%s)', (env) => {
  const template = operationsTemplate(env);
  const params = parametersFor(env);
  const functionId = (service: string): string => {
    const ids = Object.entries(template.findResources('AWS::Lambda::Function')).filter(
      ([, r]) => ((r as Resource).Properties.Environment as { Variables: Record<string, unknown> }).Variables.POWERTOOLS_SERVICE_NAME === service,
    );
    expect(ids).toHaveLength(1);
    return ids[0][0];
  };
  const roleStatements = (service: string): Statement[] => {
    const fn = template.toJSON().Resources[functionId(service)] as Resource;
    const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    return Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify((p as Resource).Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap((p) => ((p as Resource).Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  };
  const actionsOf = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat()).sort();

  it('runs three functions on arm64 and the newest Node.js runtime, logging as JSON to their own log group', () => {
    template.resourceCountIs('AWS::Lambda::Function', 3);
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function')) as Resource[]) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.stringMatching(/Logs/) } },
      });
    }
  });

  it(`keeps Lambda logs ${params.logRetentionDays} days`, () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 3);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: params.logRetentionDays });
  });

  it('configures the client in each function for the shared tier, KMS-wrapped keys and the manifest secret', () => {
    for (const service of ['cachevault-health', 'cachevault-rotate-keys', 'cachevault-migrate']) {
      const fn = template.toJSON().Resources[functionId(service)] as Resource;
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        CACHEVAULT_BACKEND: 'dynamodb',
        CACHEVAULT_DYNAMODB_TABLE_NAME: expect.anything(),
        CACHEVAULT_KEYS_PROVIDERS: 'kms',
        CACHEVAULT_KEYS_APP: 'cachevault',
        CACHEVAULT_KEYS_ENVIRONMENT: env,
        CACHEVAULT_KEYS_MANIFEST_STORE: 'secretsmanager',
        CACHEVAULT_KEYS_MANIFEST_SECRET_ID: expect.anything(),
        CACHEVAULT_KEYS_KMS_KEY_ID: expect.anything(),
        CACHEVAULT_KEYS_KMS_MAC_KEY_ID: { 'Fn::ImportValue': expect.stringMatching(/ManifestMacKey.*Arn/) },
        CACHEVAULT_KEYS_WRAP_LOCALLY: 'false',
        POWERTOOLS_METRICS_NAMESPACE: 'CacheVault',
        CACHEVAULT_ENVIRONMENT_NAME: env,
      });
    }
  });

  it(`runs the health check every ${params.healthCheckEveryMinutes} minutes through EventBridge Scheduler, without retries`, () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: `rate(${params.healthCheckEveryMinutes} minutes)`,
      State: 'ENABLED',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [functionId('cachevault-health'), 'Arn'] }, RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 0 }) }),
    });
  });

  it(`rotates the key manifest every ${params.keyRotationDays} days with the rotate-keys function`, () => {
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { 'Fn::ImportValue': Match.stringLikeRegexp('KeyManifestSecret') },
      RotationLambdaARN: { 'Fn::GetAtt': [functionId('cachevault-rotate-keys'), 'Arn'] },
      RotationRules: { ScheduleExpression: `rate(${params.keyRotationDays} days)` },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [functionId('cachevault-rotate-keys'), 'Arn'] },
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
  });

  it('lets Secrets Manager invoke rotate-keys only for rotations of the manifest secret (SourceArn)', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission', { Properties: { Principal: 'secretsmanager.amazonaws.com' } })) as Resource[];
    expect(permissions).toHaveLength(1);
    expect(permissions[0].Properties.SourceArn).toEqual({ 'Fn::ImportValue': expect.stringMatching(/KeyManifestSecret/) });
  });

  it.each([
    ['cachevault-rotate-keys', params.reservedConcurrency.rotateKeys],
    ['cachevault-migrate', params.reservedConcurrency.migrate],
  ])('reserves (and caps) the concurrency of %s at %i', (service, reserved) => {
    const fn = template.toJSON().Resources[functionId(service)] as Resource;
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(reserved);
  });

  it('leaves the health function in the unreserved pool (it runs every few minutes, one at a time)', () => {
    const fn = template.toJSON().Resources[functionId('cachevault-health')] as Resource;
    expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  describe('alarms', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    const topicImport = { 'Fn::ImportValue': expect.stringMatching(/AlarmsTopic/) };

    it('has exactly the nine alarms of this stack (the table alarms live in the data stack), each notifying the alarm topic on alarm and on recovery', () => {
      expect(alarms).toHaveLength(9);
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toEqual([topicImport]);
        expect(alarm.Properties.OKActions).toEqual([topicImport]);
      }
    });

    it.each(['cachevault-health', 'cachevault-rotate-keys', 'cachevault-migrate'])('alarms on any error and any throttle of %s', (service) => {
      for (const metricName of ['Errors', 'Throttles']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: metricName,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId(service) } }],
          Statistic: 'Sum',
          Period: 300,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
        });
      }
    });

    it('alarms when the health check fails or stops reporting (missing data breaches)', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'CacheVault',
        MetricName: 'HealthCheckSucceeded',
        Dimensions: [{ Name: 'environment', Value: env }, { Name: 'service', Value: 'cachevault-health' }],
        Statistic: 'Minimum',
        Period: params.healthCheckEveryMinutes * 60,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        TreatMissingData: 'breaching',
      });
    });

    it('alarms on the first failed rotation step', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'CacheVault',
        MetricName: 'KeyRotationFailures',
        Dimensions: Match.arrayWith([{ Name: 'service', Value: 'cachevault-rotate-keys' }]),
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    });

    it(`alarms when re-encryption runs ${params.reencryptionStallMinutes} minutes without progress`, () => {
      const periods = params.reencryptionStallMinutes / 5;
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: 'IF(invocations > 0 AND FILL(processed, 0) == 0, 1, 0)' }),
          Match.objectLike({ Id: 'invocations', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'Invocations' }) }) }),
          Match.objectLike({ Id: 'processed', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'MigrationItemsProcessed' }) }) }),
        ]),
        Threshold: 1,
        EvaluationPeriods: periods,
        DatapointsToAlarm: periods,
        TreatMissingData: 'notBreaching',
      });
    });
  });

  it('shows every alarm and metric on one dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const metric of ['HealthCheckSucceeded', 'HealthStepLatency', 'CacheItemCount', 'KeyRotationFailures', 'MigrationItemsProcessed', 'ThrottledRequests', 'SystemErrors', 'Errors', 'Throttles']) {
      expect(body).toContain(metric);
    }
    // The alarm status widget lists all eleven alarms: nine of this stack, the table's two imported.
    const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    for (const id of alarmIds) expect(body).toContain(`{"Fn::GetAtt":["${id}","Arn"]}`);
    expect(body.match(/ExportsOutputFnGetAttCache(ThrottledRequests|SystemErrors)Alarm/g)).toHaveLength(2);
  });

  it('lets the rotation function write only the manifest, create data keys in its own context and start migrate', () => {
    const statements = roleStatements('cachevault-rotate-keys');
    expect(actionsOf(statements)).toEqual(
      [
        'kms:Decrypt', // manifest via Secrets Manager
        'kms:Decrypt', // data keys, encryption context bound
        'kms:GenerateDataKey', // manifest writes via Secrets Manager
        'kms:GenerateDataKey', // new data key version, encryption context bound
        'kms:GenerateMac', // seals the pending manifest
        'kms:VerifyMac', // verifies the current and pending manifests
        'lambda:InvokeFunction',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:UpdateSecretVersionStage',
      ].sort(),
    );
    const generate = statements.filter((s) => s.Action === 'kms:GenerateDataKey' && s.Condition?.StringEquals?.['kms:EncryptionContext:env'] !== undefined);
    expect(generate).toHaveLength(1);
    expect(generate[0].Condition).toEqual({ StringEquals: { 'kms:EncryptionContext:app': 'cachevault', 'kms:EncryptionContext:env': env } });
    expect(statements.find((s) => s.Action === 'lambda:InvokeFunction')?.Resource).toEqual({ 'Fn::GetAtt': [functionId('cachevault-migrate'), 'Arn'] });
  });

  it('lets the migrate function use the table, unwrap data keys, write the manifest to retire drained versions, and re-invoke only itself', () => {
    const statements = roleStatements('cachevault-migrate');
    // It seals with the active data key it unwraps; creating data keys is the rotation's job.
    const inKeyContext = statements.filter((s) => s.Condition?.StringEquals?.['kms:EncryptionContext:app'] !== undefined);
    expect(inKeyContext.map((s) => s.Action)).toEqual(['kms:Decrypt']);
    const invoke = statements.find((s) => s.Action === 'lambda:InvokeFunction');
    expect(JSON.stringify(invoke?.Resource)).toContain(`function:cachevault-${env}-migrate`);
    expect(actionsOf(statements)).toEqual(expect.arrayContaining(['dynamodb:Scan', 'dynamodb:BatchWriteItem', 'secretsmanager:GetSecretValue']));
    // Retiring a drained version writes a new manifest version; moving stages is the rotation's job.
    const put = statements.filter((s) => [s.Action].flat().includes('secretsmanager:PutSecretValue'));
    expect(put).toHaveLength(1);
    expect([put[0]!.Action].flat()).toEqual(['secretsmanager:PutSecretValue']);
    expect(JSON.stringify(put[0]!.Resource)).toContain('ManifestSecret');
    expect(actionsOf(statements)).not.toContain('secretsmanager:UpdateSecretVersionStage');
  });

  describe('the manifest MAC key', () => {
    const onMacKey = (service: string) => roleStatements(service).filter((s) => JSON.stringify(s.Resource).includes('ManifestMacKey'));
    const macStatement = (actions: string | string[]) => ({
      Action: actions,
      Condition: { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } },
      Effect: 'Allow',
      Resource: { 'Fn::ImportValue': expect.stringMatching(/ManifestMacKey.*Arn/) },
    });

    it.each(['cachevault-rotate-keys', 'cachevault-migrate'])('lets %s make and verify manifest MACs, HMAC_SHA_256 only (it writes the manifest)', (service) => {
      expect(onMacKey(service)).toEqual([macStatement(['kms:GenerateMac', 'kms:VerifyMac'])]);
    });

    it('lets the health function only verify manifest MACs, never make one', () => {
      expect(onMacKey('cachevault-health')).toEqual([macStatement('kms:VerifyMac')]);
      expect(actionsOf(roleStatements('cachevault-health'))).not.toContain('kms:GenerateMac');
    });

    it('grants MAC actions on no other key, and nothing else on the MAC key', () => {
      for (const service of ['cachevault-health', 'cachevault-rotate-keys', 'cachevault-migrate']) {
        const macActions = roleStatements(service).filter((s) => [s.Action].flat().some((a) => /Mac$/.test(a)));
        expect(macActions).toEqual(onMacKey(service));
      }
    });
  });

  it('lets the health function touch only the table, the manifest and its own logs', () => {
    const actions = actionsOf(roleStatements('cachevault-health'));
    expect(actions.filter((a) => !/^(dynamodb|kms|secretsmanager|logs):/.test(a))).toEqual([]);
    expect(actions).not.toContain('secretsmanager:PutSecretValue');
  });

  it('gives the health function exactly the table actions its canary and table checks use: no scan, query, batch or update', () => {
    const table = actionsOf(roleStatements('cachevault-health')).filter((a) => a.startsWith('dynamodb:'));
    expect(table).toEqual(['dynamodb:DeleteItem', 'dynamodb:DescribeContinuousBackups', 'dynamodb:DescribeTable', 'dynamodb:DescribeTimeToLive', 'dynamodb:GetItem', 'dynamodb:PutItem']);
  });

  it('grants no wildcard action in any IAM policy and attaches no AWS managed policy', () => {
    const actions = policyStatements(template, 'AWS::IAM::Policy').flatMap((s) => [s.Action].flat());
    expect(actions.filter((a) => String(a).includes('*'))).toEqual([]);
    for (const role of Object.values(template.findResources('AWS::IAM::Role')) as Resource[]) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

it('the prod operations stack matches its snapshot', () => {
  expect(normalisedTemplate(operationsTemplate('prod'))).toMatchSnapshot();
});
