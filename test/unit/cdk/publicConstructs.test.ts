import { App, RemovalPolicy, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheVaultData, CacheVaultOperations } from '../../../lib/constructs';
import { policyStatements, type Statement } from './templateHelpers';

/**
 * The public constructs (`cachevault/cdk`) used the way an app uses them: in one stack of its
 * own, next to its own functions. test/integration/cdkAppExample.test.ts does the same from the
 * packed package; these run in-process and fast.
 */
const outdirs: string[] = [];
function app(nag = false): App {
  const outdir = mkdtempSync(join(tmpdir(), 'cv-constructs-'));
  outdirs.push(outdir);
  const result = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  if (nag) Validations.of(result).addPlugins(new AwsSolutionsChecks(result));
  return result;
}
afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const actionsOf = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat()).sort();
const userFunction = (stack: Stack, id: string) =>
  new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => 1') });

describe('CacheVaultData', () => {
  it('keeps its table, keys and secret by default: RETAIN, with deletion protection on the table', () => {
    const stack = new Stack(app(), 'S');
    new CacheVaultData(stack, 'Cache', { app: 'shop', envName: 'prod' });
    const template = Template.fromStack(stack);
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', Properties: { DeletionProtectionEnabled: true, BillingMode: 'PAY_PER_REQUEST' } });
    template.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain', Properties: { Name: 'cachevault/shop/prod/key-manifest' } });
    for (const key of Object.values(template.findResources('AWS::KMS::Key'))) expect(key.DeletionPolicy).toBe('Retain');
  });

  it.each([
    ['app', { app: 'my app', envName: 'dev' }],
    ['envName', { app: 'shop', envName: 'prod.eu' }],
  ])('refuses an %s the client or a KMS alias would not take, before anything deploys', (name, props) => {
    const stack = new Stack(app(), 'S');
    expect(() => new CacheVaultData(stack, 'Cache', props)).toThrow(new RegExp(`CacheVaultData ${name} ".*" must be 1-64 letters, digits`));
  });

  it('grantReadWrite adds the write actions grantRead leaves out, and neither adds a way to create data keys or MAC a manifest', () => {
    const stack = new Stack(app(), 'S');
    const cache = new CacheVaultData(stack, 'Cache', { app: 'shop', envName: 'dev', removalPolicy: RemovalPolicy.DESTROY });
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const writer = new iam.Role(stack, 'Writer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    expect(cache.grantRead(reader).success).toBe(true);
    expect(cache.grantReadWrite(writer).success).toBe(true);
    const template = Template.fromStack(stack);
    const of = (role: string) =>
      Object.values(template.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(role))
        .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
    const read = actionsOf(of('Reader'));
    const write = actionsOf(of('Writer'));
    expect(write.filter((a) => !read.includes(a))).toEqual([
      'dynamodb:BatchWriteItem',
      'dynamodb:DeleteItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'kms:Encrypt',
      'kms:GenerateDataKey',
    ]);
    // kms:GenerateDataKey for the writer is the table's storage key through DynamoDB, never the wrapping key.
    const wrappingKey = Object.entries(template.findResources('AWS::KMS::Key')).find(([, k]) => /wraps the cache/.test(String(k.Properties.Description)))![0];
    const onWrappingKey = of('Writer').filter((s) => JSON.stringify(s.Resource).includes(wrappingKey));
    expect(onWrappingKey).toEqual([
      expect.objectContaining({ Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:EncryptionContext:app': 'shop', 'kms:EncryptionContext:env': 'dev' } } }),
    ]);
    for (const actions of [read, write]) {
      expect(actions.filter((a) => /GenerateMac|PutSecretValue|UpdateSecretVersionStage|\*/.test(a))).toEqual([]);
    }
  });

  it('clientEnvironment gives a function the variables that point the client at this cache, and keeps the ones it had', () => {
    const stack = new Stack(app(), 'S');
    const cache = new CacheVaultData(stack, 'Cache', { app: 'shop', envName: 'dev' });
    const fn = userFunction(stack, 'Fn');
    fn.addEnvironment('MY_SETTING', 'kept');
    cache.clientEnvironment(fn);
    const variables = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables;
    expect(variables).toEqual({ MY_SETTING: 'kept', ...stack.resolve(cache.clientEnvironmentVariables()) });
    expect(variables).toMatchObject({
      CACHEVAULT_BACKEND: 'dynamodb',
      CACHEVAULT_KEYS_APP: 'shop',
      CACHEVAULT_KEYS_ENVIRONMENT: 'dev',
      CACHEVAULT_KEYS_MANIFEST_STORE: 'secretsmanager',
      CACHEVAULT_DYNAMODB_TABLE_NAME: { Ref: expect.stringMatching(/^CacheTable/) },
    });
  });

  it('without CacheVaultOperations, cdk-nag reports the manifest secret nobody rotates (nothing acknowledges it)', () => {
    const a = app(true);
    const stack = new Stack(a, 'S');
    new CacheVaultData(stack, 'Cache', { app: 'shop', envName: 'dev', removalPolicy: RemovalPolicy.DESTROY });
    expect(() => a.synth()).toThrow(/AwsSolutions-SMG4/);
  });
});

describe('CacheVaultOperations', () => {
  it('in one stack with its data, passes cdk-nag (nothing left to acknowledge but its own), and schedules the rotation of that data', () => {
    const a = app(true);
    const stack = new Stack(a, 'S');
    const cache = new CacheVaultData(stack, 'Cache', { app: 'shop', envName: 'dev', removalPolicy: RemovalPolicy.DESTROY });
    const ops = new CacheVaultOperations(stack, 'Ops', { data: cache, keyRotationDays: 7 });
    expect(() => a.synth()).not.toThrow();
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: stack.getLogicalId(cache.manifest.secret.node.defaultChild as CfnElement) },
      RotationRules: { ScheduleExpression: 'rate(7 days)' },
    });
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'shop-dev-operations' });
    template.resourceCountIs('AWS::Lambda::Function', 3);
    // Log groups go with the data's removal policy unless told otherwise.
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) expect(group.DeletionPolicy).toBe('Delete');
    expect(ops.rotation.function.fn.runtime.name).toBe('nodejs24.x');
  });

  it('grants no wildcard action in the stack', () => {
    const stack = new Stack(app(), 'S');
    new CacheVaultOperations(stack, 'Ops', { data: new CacheVaultData(stack, 'Cache', { app: 'shop', envName: 'dev' }) });
    const actions = actionsOf(policyStatements(Template.fromStack(stack), 'AWS::IAM::Policy'));
    expect(actions.length).toBeGreaterThan(20);
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });
});
