/**
 * KmsKeyProvider and SecretsManagerManifestStore over HTTP against moto_server: the requests the
 * SDK really builds, the errors the service really returns, the staging labels it really moves.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { KeyProviderError, KeyProviderFailure, ManifestError } from '../../client/keys/errors';
import { emptyManifest, withNewActive, type KeyManifest } from '../../client/keys/keyManifest';
import { KmsKeyProvider } from '../../client/keys/kmsKeyProvider';
import { SecretsManagerManifestStore, SecretStage } from '../../client/keys/secretsManagerManifestStore';
import { createManifestSecret, createMotoKey, motoKms, motoSecrets, testMotoEndpoint, uniqueName } from '../support/motoClients';
import { MOTO_CREDENTIALS, MOTO_REGION } from '../support/motoServer';

const context = { app: 'cachevault', environment: 'dev', keyId: 'k1' } as const;

let kms: KMSClient;
let sm: SecretsManagerClient;
let keyArn: string;
let provider: KmsKeyProvider;

beforeAll(async () => {
  kms = motoKms();
  sm = motoSecrets();
  keyArn = await createMotoKey(kms);
  provider = new KmsKeyProvider({ keyId: keyArn, client: motoKms({ maxAttempts: 1 }), app: 'cachevault', environment: 'dev' });
});

afterAll(() => {
  provider.close();
  kms.destroy();
  sm.destroy();
});

async function failureOf(promise: Promise<unknown>): Promise<KeyProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeyProviderError);
  return error as KeyProviderError;
}

describe('KmsKeyProvider against KMS over HTTP (moto)', () => {
  it('generates a 256-bit data key and unwraps it again under the same encryption context', async () => {
    const { plaintext, wrapped } = await provider.generateDataKey(context);
    expect(plaintext).toHaveLength(32);
    expect(wrapped.provider).toBe('kms');
    expect(wrapped.wrappingKeyRef).toBe(keyArn);
    const unwrapped = await provider.unwrap(wrapped, context);
    expect(unwrapped.equals(plaintext)).toBe(true);
  });

  it('wraps an existing key with Encrypt and unwraps it back', async () => {
    const key = Buffer.alloc(32, 7);
    const wrapped = await provider.wrap(key, context);
    expect((await provider.unwrap(wrapped, context)).equals(key)).toBe(true);
  });

  it.each([
    ['another environment', { ...context, environment: 'prod' }],
    ['another app', { ...context, app: 'other-app' }],
    ['another key version id', { ...context, keyId: 'k2' }],
  ])('refuses to unwrap a data key under %s (InvalidCiphertextException)', async (_what, wrongContext) => {
    const { wrapped } = await provider.generateDataKey(context);
    const error = await failureOf(provider.unwrap(wrapped, wrongContext));
    expect(error.failure).toBe(KeyProviderFailure.invalidCiphertext);
    expect(error.isOutage).toBe(false);
  });

  it('refuses a data key wrapped under another KMS key, even when the manifest names that key', async () => {
    const otherArn = await createMotoKey(kms, 'another app');
    const other = new KmsKeyProvider({ keyId: otherArn, client: motoKms() });
    const { wrapped } = await other.generateDataKey(context);
    other.close();
    // Pinned to the configured key: the wrapped key's own reference is not trusted.
    const error = await failureOf(provider.unwrap({ ...wrapped, wrappingKeyRef: keyArn }, context));
    // AWS answers IncorrectKeyException (mapped to invalid-ciphertext, covered with the SDK mock in
    // test/unit/keys/kmsSdkErrors.test.ts); moto 5.2 answers AccessDeniedException. Either way
    // no key material comes back.
    expect([KeyProviderFailure.invalidCiphertext, KeyProviderFailure.accessDenied]).toContain(error.failure);
  });

  it('says the key does not exist for an unknown key id (NotFoundException), which is not an outage', async () => {
    const missing = new KmsKeyProvider({ keyId: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000', client: motoKms() });
    const error = await failureOf(missing.generateDataKey(context));
    missing.close();
    expect(error.failure).toBe(KeyProviderFailure.notFound);
    expect(error.message).toContain('does not exist');
  });

  it('probes with GenerateDataKey under the deployment context and reports a refused connection as a network failure', async () => {
    await expect(provider.probe()).resolves.toEqual({ ok: true });
    // A port nothing listens on: the same provider built by configuration (endpoint, region).
    const dead = new KmsKeyProvider({ keyId: keyArn, client: motoKms({ endpoint: 'http://127.0.0.1:9', requestTimeoutMs: 1_000 }) });
    const probe = await dead.probe();
    expect(probe.ok).toBe(false);
    const error = await failureOf(dead.generateDataKey(context));
    dead.close();
    // Outside jest the SDK keeps the socket error's code (ECONNREFUSED: network). Inside jest's vm
    // realm, Node's Error is not the sandbox's, so the SDK's retry layer re-wraps it as a plain
    // string and the code is lost (service-unavailable). Both are outages: the chain falls back.
    expect([KeyProviderFailure.network, KeyProviderFailure.serviceUnavailable]).toContain(error.failure);
    expect(error.isOutage).toBe(true);
  });

  it('builds a working client from endpoint and region alone when the SDK finds credentials in the environment', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = MOTO_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = MOTO_CREDENTIALS.secretAccessKey;
    try {
      const configured = new KmsKeyProvider({ keyId: keyArn, region: MOTO_REGION, endpoint: testMotoEndpoint() });
      const { plaintext, wrapped } = await configured.generateDataKey(context);
      expect((await configured.unwrap(wrapped, context)).equals(plaintext)).toBe(true);
      configured.close();
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });
});

function manifestWith(...ids: string[]): KeyManifest {
  let manifest = emptyManifest('cachevault', 'dev');
  for (const id of ids) {
    manifest = withNewActive(manifest, {
      id,
      createdAt: '2026-12-01T00:00:00.000Z',
      state: 'active',
      localOnly: false,
      wrapped: [{ provider: 'kms', wrappingKeyRef: 'arn:aws:kms:us-east-1:123456789012:key/x', ciphertext: Buffer.from(id).toString('base64') }],
    });
  }
  return manifest;
}

describe('SecretsManagerManifestStore against Secrets Manager over HTTP (moto)', () => {
  it('reads the placeholder the stack creates as "no manifest yet", then reads back what it saved', async () => {
    const store = new SecretsManagerManifestStore({ secretId: await createManifestSecret(sm), client: motoSecrets() });
    await expect(store.load()).resolves.toBeUndefined();
    const manifest = manifestWith('k1');
    await store.save(manifest);
    const loaded = await store.load();
    expect(loaded?.versions.map((v) => v.id)).toEqual(['k1']);
    expect(loaded?.revision).toBe(manifest.revision);
    store.close();
  });

  it('keeps AWSCURRENT on the old version while a pending one is put, and moves it (old one AWSPREVIOUS) on promote', async () => {
    const secretId = await createManifestSecret(sm);
    const store = new SecretsManagerManifestStore({ secretId, client: motoSecrets() });
    await store.save(manifestWith('k1'));
    const token = '11111111-2222-4333-8444-555555555555';
    await store.putPending(manifestWith('k1', 'k2'), token);

    expect((await store.load())?.versions.map((v) => v.id)).toEqual(['k1']);
    expect((await store.loadVersion({ versionId: token, stage: SecretStage.pending }))?.versions.map((v) => v.id)).toEqual(['k1', 'k2']);
    const before = await store.describe();
    const currentId = Object.entries(before.versions).find(([, s]) => s.includes(SecretStage.current))?.[0];
    expect(before.versions[token]).toEqual([SecretStage.pending]);

    await store.promote(token, currentId);
    const after = await sm.send(new DescribeSecretCommand({ SecretId: secretId }));
    expect(after.VersionIdsToStages?.[token]).toEqual(expect.arrayContaining([SecretStage.current]));
    expect(after.VersionIdsToStages?.[currentId ?? '']).toEqual([SecretStage.previous]);
    expect((await store.load())?.versions.map((v) => v.id)).toEqual(['k1', 'k2']);
    store.close();
  });

  it('putting the same pending version twice under one token is idempotent', async () => {
    const store = new SecretsManagerManifestStore({ secretId: await createManifestSecret(sm), client: motoSecrets() });
    const token = '21111111-2222-4333-8444-555555555555';
    await store.putPending(manifestWith('k1'), token);
    await expect(store.putPending(manifestWith('k1'), token)).resolves.toBeUndefined();
    store.close();
  });

  it('reports a missing secret as undefined on read and as a ManifestError that names the fix on write', async () => {
    const store = new SecretsManagerManifestStore({ secretId: uniqueName('cachevault/missing'), client: motoSecrets() });
    await expect(store.load()).resolves.toBeUndefined();
    const error = await store.save(manifestWith('k1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as ManifestError).hint).toMatch(/Deploy the stack|secretId/);
    store.close();
  });
});
