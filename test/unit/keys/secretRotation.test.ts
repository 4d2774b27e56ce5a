import { DecryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { PutSecretValueCommand, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import 'aws-sdk-client-mock-jest';
import { createHmac, randomBytes } from 'node:crypto';
import { NoKeyProviderError, RotationStepError } from '../../../client/keys/errors';
import { KeyManager } from '../../../client/keys/keyManager';
import { KmsKeyProvider } from '../../../client/keys/kmsKeyProvider';
import type { ManifestSealer } from '../../../client/keys/manifestSeal';
import { createSecret, finishSecret, runRotationStep, setSecret, testSecret, type RotationDeps } from '../../../client/keys/secretRotation';
import { SecretsManagerManifestStore } from '../../../client/keys/secretsManagerManifestStore';
import { CollectingAudit, awsError, fakeKms, fakeSecretsManager } from './fakes';

const TOKEN = '11111111-2222-3333-4444-555555555555';

async function setup() {
  const kms = fakeKms();
  const sm = fakeSecretsManager();
  const store = new SecretsManagerManifestStore({ secretId: sm.secretId, client: sm.client });
  const providers = [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client })];
  const audit = new CollectingAudit();
  const deps: RotationDeps = { store, providers, app: 'shop', environment: 'dev', audit };
  // A client has been running on k1.
  const client = await KeyManager.open({ providers, store, app: 'shop', environment: 'dev' });
  await client.activeKey();
  const initialVersion = Object.keys(Object.fromEntries(sm.versions))[0]!;
  sm.startRotation(TOKEN);
  kms.mock.resetHistory();
  sm.mock.resetHistory();
  return { kms, sm, store, deps, client, audit, initialVersion };
}

describe('Secrets Manager rotation steps', () => {
  it('createSecret puts a new KMS-wrapped version as AWSPENDING under the token, once', async () => {
    const { deps, sm, kms, store } = await setup();
    await expect(createSecret(deps, TOKEN)).resolves.toEqual({ step: 'createSecret', keyId: 'k2', changed: true });
    expect(sm.mock).toHaveReceivedCommandWith(PutSecretValueCommand, { ClientRequestToken: TOKEN, VersionStages: ['AWSPENDING'] });
    const pending = await store.loadVersion({ versionId: TOKEN, stage: 'AWSPENDING' });
    expect(pending!.versions.map((v) => [v.id, v.state, v.wrapped.map((w) => w.provider)])).toEqual([
      ['k1', 'decrypt-only', ['kms']],
      ['k2', 'active', ['kms']],
    ]);
    // AWSCURRENT is untouched until finishSecret.
    expect((await store.load())!.versions.map((v) => v.state)).toEqual(['active']);
    // Idempotent: a retried createSecret neither generates nor puts again.
    await expect(createSecret(deps, TOKEN)).resolves.toEqual({ step: 'createSecret', keyId: 'k2', changed: false });
    expect(kms.calls(GenerateDataKeyCommand)).toBe(1);
    expect(sm.mock).toHaveReceivedCommandTimes(PutSecretValueCommand, 1);
  });

  it('createSecret fails with the reason when KMS cannot generate the key, and puts nothing', async () => {
    const { deps, sm, kms } = await setup();
    kms.failWith(awsError('AccessDeniedException'));
    const error = (await createSecret(deps, TOKEN).catch((e: unknown) => e)) as NoKeyProviderError;
    expect(error).toBeInstanceOf(NoKeyProviderError);
    expect(error.message).toMatch(/kms: KMS denied kms:GenerateDataKey on key alias\/cv/);
    expect(sm.mock).toHaveReceivedCommandTimes(PutSecretValueCommand, 0);
  });

  it('setSecret accepts a sound pending manifest and rejects one that drops a version', async () => {
    const { deps, sm, store } = await setup();
    await createSecret(deps, TOKEN);
    await expect(setSecret(deps, TOKEN)).resolves.toEqual({ step: 'setSecret', keyId: 'k2', changed: false });

    const other = '99999999-2222-3333-4444-555555555555';
    sm.startRotation(other);
    const pending = (await store.loadVersion({ versionId: TOKEN }))!;
    await store.putPending({ ...pending, versions: pending.versions.filter((v) => v.id !== 'k1') }, other);
    const error = (await setSecret(deps, other).catch((e: unknown) => e)) as RotationStepError;
    expect(error).toBeInstanceOf(RotationStepError);
    expect(error.step).toBe('setSecret');
    expect(error.message).toMatch(/drops key version k1/);
  });

  it('testSecret unwraps the pending key and round-trips a test value; fails when KMS cannot unwrap it', async () => {
    const { deps, kms } = await setup();
    await createSecret(deps, TOKEN);
    await expect(testSecret(deps, TOKEN)).resolves.toEqual({ step: 'testSecret', keyId: 'k2', changed: false });
    expect(kms.calls(DecryptCommand)).toBe(1);
    kms.failWith(awsError('DisabledException'));
    await expect(testSecret(deps, TOKEN)).rejects.toThrow(/KMS key alias\/cv is disabled/);
  });

  it('testSecret fails clearly when there is no pending version', async () => {
    const { deps } = await setup();
    await expect(testSecret(deps, TOKEN)).rejects.toThrow(/no AWSPENDING key manifest for token/);
  });

  it('finishSecret moves AWSCURRENT to the token; clients then use k2 and still read k1', async () => {
    const { deps, sm, client, initialVersion, audit } = await setup();
    const k1 = Buffer.from((await client.keyById('k1')).material);
    await createSecret(deps, TOKEN);
    await expect(finishSecret(deps, TOKEN)).resolves.toEqual({ step: 'finishSecret', keyId: 'k2', changed: true });
    expect(sm.mock).toHaveReceivedCommandWith(UpdateSecretVersionStageCommand, { VersionStage: 'AWSCURRENT', MoveToVersionId: TOKEN, RemoveFromVersionId: initialVersion });
    expect(sm.stagesOf(TOKEN)).toEqual(['AWSCURRENT']);
    expect(sm.stagesOf(initialVersion)).toEqual(['AWSPREVIOUS']);
    expect(audit.of('key.rotated')).toEqual([{ from: 'k1', to: 'k2', reason: 'secrets-manager-rotation' }]);
    // A fresh client sees k2 active; the old client finds k2 through its unknown-id reload.
    const fresh = await KeyManager.open({ providers: deps.providers, store: deps.store, app: 'shop', environment: 'dev' });
    expect((await fresh.activeKey()).id).toBe('k2');
    expect((await fresh.keyById('k1')).material).toEqual(k1);
    expect((await client.keyById('k2')).id).toBe('k2');
    // Repeating it changes nothing.
    await expect(finishSecret(deps, TOKEN)).resolves.toMatchObject({ changed: false });
  });

  it('finishSecret reports a Secrets Manager refusal with the permission to grant', async () => {
    const { deps, sm } = await setup();
    await createSecret(deps, TOKEN);
    sm.mock.on(UpdateSecretVersionStageCommand).rejects(awsError('AccessDeniedException'));
    await expect(finishSecret(deps, TOKEN)).rejects.toThrow(/denied secretsmanager:UpdateSecretVersionStage/);
  });

  it('runRotationStep runs all four steps in order and refuses events that do not fit the secret', async () => {
    const { deps, sm } = await setup();
    for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
      await runRotationStep(deps, { SecretId: sm.secretId, ClientRequestToken: TOKEN, Step });
    }
    expect(sm.stagesOf(TOKEN)).toEqual(['AWSCURRENT']);
    // Once AWSCURRENT, any step is a no-op.
    await expect(runRotationStep(deps, { SecretId: sm.secretId, ClientRequestToken: TOKEN, Step: 'createSecret' })).resolves.toEqual({ step: 'createSecret', changed: false });
    await expect(runRotationStep(deps, { SecretId: sm.secretId, ClientRequestToken: 'unknown-token', Step: 'createSecret' })).rejects.toThrow(/not a version of/);
    sm.setRotationEnabled(false);
    await expect(runRotationStep(deps, { SecretId: sm.secretId, ClientRequestToken: TOKEN, Step: 'setSecret' })).rejects.toThrow(/Rotation is not enabled/);
  });
});

describe('rotation of a sealed manifest', () => {
  /** A stand-in for the KMS HMAC key: the same ManifestSealer contract, an in-memory secret. */
  function memorySealer(secret = randomBytes(32)): ManifestSealer {
    return {
      description: 'a test HMAC key',
      sign: async (data) => ({ mac: createHmac('sha256', secret).update(data).digest(), keyRef: 'kms:test-mac-key' }),
      verify: async (data, mac) => createHmac('sha256', secret).update(data).digest().equals(mac),
    };
  }

  it('createSecret seals the pending manifest, setSecret verifies it, and a sealed client follows the rotation', async () => {
    const kms = fakeKms();
    const sm = fakeSecretsManager();
    const store = new SecretsManagerManifestStore({ secretId: sm.secretId, client: sm.client });
    const providers = [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client })];
    const sealer = memorySealer();
    const client = await KeyManager.open({ providers, store, app: 'shop', environment: 'dev', sealer });
    await client.activeKey();
    sm.startRotation(TOKEN);
    const deps: RotationDeps = { store, providers, app: 'shop', environment: 'dev', sealer };
    await createSecret(deps, TOKEN);
    const pending = await store.loadVersion({ versionId: TOKEN, stage: 'AWSPENDING' });
    expect(pending!.mac).toMatchObject({ alg: 'hmac-sha256', keyRef: 'kms:test-mac-key' });
    expect(pending!.versions.every((v) => typeof v.check === 'string')).toBe(true);
    await setSecret(deps, TOKEN);
    await testSecret(deps, TOKEN);
    await finishSecret(deps, TOKEN);
    await expect(client.rotate().then(() => client.status().activeKeyId)).resolves.toBe('k3');
    await client.close();
  });

  it('createSecret refuses to build on a current manifest whose MAC does not verify', async () => {
    const kms = fakeKms();
    const sm = fakeSecretsManager();
    const store = new SecretsManagerManifestStore({ secretId: sm.secretId, client: sm.client });
    const providers = [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client })];
    const client = await KeyManager.open({ providers, store, app: 'shop', environment: 'dev', sealer: memorySealer() });
    await client.activeKey();
    await client.close();
    sm.startRotation(TOKEN);
    // The rotation function holds another MAC key than the one that sealed the manifest.
    await expect(createSecret({ store, providers, app: 'shop', environment: 'dev', sealer: memorySealer() }, TOKEN)).rejects.toMatchObject({ code: 'MANIFEST_TAMPERED' });
  });
});
