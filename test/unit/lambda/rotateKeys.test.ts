import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler, observability } from '../../../lambda/rotateKeys';
import { InvalidEventError } from '../../../lambda/errors';
import { awsError, FakeKms, FakeSecretsManager, lambdaContext } from '../../support/awsFakes';
import { lambdaKeysEnv } from '../../support/lambdaEnvironment';

const SECRET_ID = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cachevault/cachevault/dev/key-manifest-AbCdEf';
const ENV = {
  ...lambdaKeysEnv(SECRET_ID),
  CACHEVAULT_MIGRATE_FUNCTION_NAME: 'cachevault-dev-migrate',
  CACHEVAULT_ENVIRONMENT_NAME: 'dev',
};
const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
type Step = (typeof STEPS)[number];

let kms: FakeKms;
let secrets: FakeSecretsManager;
const lambda = mockClient(LambdaClient);
const saved = { ...process.env };
let addMetric: jest.SpyInstance;

beforeAll(() => {
  Object.assign(process.env, ENV);
  observability.logger.setLogLevel('SILENT');
});
afterAll(() => {
  process.env = saved;
  lambda.restore();
});
beforeEach(() => {
  kms = new FakeKms();
  secrets = new FakeSecretsManager(SECRET_ID);
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  addMetric = jest.spyOn(observability.metrics, 'addMetric');
});
afterEach(() => {
  kms.restore();
  secrets.restore();
  jest.restoreAllMocks();
});

const step = (Step: Step, token: string) =>
  handler({ Step, SecretId: SECRET_ID, ClientRequestToken: token, RotationToken: 'rotation-token' }, lambdaContext('cachevault-dev-rotate-keys'));
async function rotate(): Promise<string> {
  const token = secrets.startRotation();
  for (const s of STEPS) await step(s, token);
  return token;
}
const failures = () => addMetric.mock.calls.filter(([name]) => name === 'KeyRotationFailures').length;

describe('rotate-keys handler', () => {
  it('takes the placeholder secret through all four steps to a manifest whose active key is k1', async () => {
    const token = secrets.startRotation();
    expect(await step('createSecret', token)).toMatchObject({ step: 'createSecret', keyId: 'k1', changed: true });
    expect(secrets.versions.get(token)?.stages).toEqual(new Set(['AWSPENDING']));
    expect(secrets.current()).toEqual({}); // nothing visible to clients before finishSecret
    expect(await step('setSecret', token)).toMatchObject({ step: 'setSecret', keyId: 'k1' });
    expect(await step('testSecret', token)).toMatchObject({ step: 'testSecret', keyId: 'k1' });
    expect(kms.calls.decrypt).toBe(1);
    expect(await step('finishSecret', token)).toMatchObject({ step: 'finishSecret', keyId: 'k1', changed: true, reencryptionStarted: true });

    expect(secrets.versions.get(token)?.stages).toEqual(new Set(['AWSCURRENT']));
    expect(secrets.versions.get('initial')?.stages).toEqual(new Set(['AWSPREVIOUS']));
    expect(secrets.current()).toMatchObject({ app: 'cachevault', environment: 'dev', versions: [{ id: 'k1', state: 'active' }] });
    expect(failures()).toBe(0);
  });

  it('makes the previous key decrypt-only on the next rotation and starts re-encryption asynchronously', async () => {
    await rotate();
    lambda.reset();
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    await rotate();
    expect(secrets.current().versions).toEqual([
      expect.objectContaining({ id: 'k1', state: 'decrypt-only' }),
      expect.objectContaining({ id: 'k2', state: 'active' }),
    ]);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    const call = lambda.commandCalls(InvokeCommand)[0].args[0].input;
    expect(call.FunctionName).toBe('cachevault-dev-migrate');
    expect(call.InvocationType).toBe('Event');
    expect(JSON.parse(Buffer.from(call.Payload as Uint8Array).toString('utf8'))).toEqual({ kind: 'reencrypt', reason: 'rotation to k2' });
  });

  it('changes no secret version when Secrets Manager repeats a step that already ran', async () => {
    const token = await rotate();
    const before = JSON.stringify([...secrets.versions]);
    for (const s of STEPS) await step(s, token);
    expect(JSON.stringify([...secrets.versions])).toBe(before);
  });

  it('starts the re-encryption again when finishSecret is repeated (the first may have failed after AWSCURRENT moved)', async () => {
    const token = await rotate();
    expect(await step('finishSecret', token)).toMatchObject({ changed: false, reencryptionStarted: true });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 2);
    const call = lambda.commandCalls(InvokeCommand)[1].args[0].input;
    expect(JSON.parse(Buffer.from(call.Payload as Uint8Array).toString('utf8'))).toMatchObject({ kind: 'reencrypt' });
  });

  it('publishes one step metric per completed step', async () => {
    const single = jest.spyOn(observability.metrics, 'singleMetric');
    await rotate();
    expect(single).toHaveBeenCalledTimes(4);
  });

  describe('failures (each fails the step, counts a KeyRotationFailures metric and leaves AWSCURRENT alone)', () => {
    it('createSecret: KMS refuses GenerateDataKey', async () => {
      kms.failures.generateDataKey = awsError('AccessDeniedException', 'not authorized to perform kms:GenerateDataKey');
      const token = secrets.startRotation();
      await expect(step('createSecret', token)).rejects.toThrow();
      expect(secrets.versions.get(token)?.value).toBeUndefined();
      expect(secrets.current()).toEqual({});
      expect(failures()).toBe(1);
    });

    it('setSecret: there is no pending manifest for the token (createSecret never succeeded)', async () => {
      const token = secrets.startRotation();
      await expect(step('setSecret', token)).rejects.toThrow(/no AWSPENDING key manifest/);
      expect(failures()).toBe(1);
    });

    it('testSecret: KMS cannot unwrap the pending key', async () => {
      const token = secrets.startRotation();
      await step('createSecret', token);
      await step('setSecret', token);
      kms.failures.decrypt = awsError('KMSInvalidStateException', 'key is disabled');
      await expect(step('testSecret', token)).rejects.toThrow();
      expect(secrets.current()).toEqual({});
      expect(failures()).toBe(1);
    });

    it('finishSecret: Secrets Manager refuses to move AWSCURRENT', async () => {
      const token = secrets.startRotation();
      for (const s of STEPS.slice(0, 3)) await step(s, token);
      secrets.failures.updateSecretVersionStage = awsError('AccessDeniedException', 'not authorized to perform secretsmanager:UpdateSecretVersionStage');
      await expect(step('finishSecret', token)).rejects.toThrow(/denied secretsmanager:UpdateSecretVersionStage/);
      expect(secrets.versions.get('initial')?.stages).toEqual(new Set(['AWSCURRENT']));
      expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
      expect(failures()).toBe(1);
    });

    it('a rotation still completes when starting re-encryption fails, and the failure is counted', async () => {
      lambda.on(InvokeCommand).rejects(awsError('AccessDeniedException'));
      const token = secrets.startRotation();
      for (const s of STEPS.slice(0, 3)) await step(s, token);
      expect(await step('finishSecret', token)).toMatchObject({ changed: true, reencryptionStarted: false });
      expect(secrets.versions.get(token)?.stages).toEqual(new Set(['AWSCURRENT']));
      expect(failures()).toBe(1);
    });
  });

  it('rejects an event that is not a rotation step, changing nothing', async () => {
    await expect(handler({ Step: 'dropSecret', SecretId: SECRET_ID, ClientRequestToken: 't' }, lambdaContext('f'))).rejects.toThrow(InvalidEventError);
    await expect(handler({ hello: 'world' }, lambdaContext('f'))).rejects.toThrow(/not a Secrets Manager rotation step/);
    expect(secrets.current()).toEqual({});
  });
});
