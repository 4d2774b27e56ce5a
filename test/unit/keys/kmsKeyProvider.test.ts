import { DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import 'aws-sdk-client-mock-jest';
import { randomBytes } from 'node:crypto';
import { KeyProviderError, KeyProviderFailure, KmsKeyMismatchError } from '../../../client/keys/errors';
import { KmsKeyProvider } from '../../../client/keys/kmsKeyProvider';
import { KMS_KEY_ARN, awsError, fakeKms } from './fakes';

const context = { app: 'shop', environment: 'prod', keyId: 'k3' };

describe('KmsKeyProvider', () => {
  it('generates an AES-256 data key bound to the encryption context { app, env, keyId }', async () => {
    const kms = fakeKms();
    const provider = new KmsKeyProvider({ keyId: 'alias/cachevault', client: kms.client });
    const { plaintext, wrapped } = await provider.generateDataKey(context);
    expect(plaintext).toHaveLength(32);
    expect(wrapped).toMatchObject({ provider: 'kms', wrappingKeyRef: KMS_KEY_ARN });
    expect(kms.mock).toHaveReceivedCommandWith(GenerateDataKeyCommand, {
      KeyId: KMS_KEY_ARN,
      KeySpec: 'AES_256',
      EncryptionContext: { app: 'shop', env: 'prod', keyId: 'k3' },
    });
  });

  it('unwraps with Decrypt pinned to the wrapping key and the same context', async () => {
    const kms = fakeKms();
    const provider = new KmsKeyProvider({ keyId: 'alias/cachevault', client: kms.client });
    const { plaintext, wrapped } = await provider.generateDataKey(context);
    const copy = Buffer.from(plaintext);
    await expect(provider.unwrap(wrapped, context)).resolves.toEqual(copy);
    expect(kms.mock).toHaveReceivedCommandWith(DecryptCommand, { KeyId: KMS_KEY_ARN, EncryptionContext: { app: 'shop', env: 'prod', keyId: 'k3' } });
  });

  it('refuses a wrapped key presented under another key version id (context mismatch)', async () => {
    const kms = fakeKms();
    const provider = new KmsKeyProvider({ keyId: 'alias/cachevault', client: kms.client });
    const { wrapped } = await provider.generateDataKey(context);
    const error = await provider.unwrap(wrapped, { ...context, keyId: 'k4' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyProviderError);
    expect((error as KeyProviderError).failure).toBe(KeyProviderFailure.invalidCiphertext);
    expect((error as KeyProviderError).isOutage).toBe(false);
  });

  it('wraps an existing key with Encrypt under the same context', async () => {
    const kms = fakeKms();
    const provider = new KmsKeyProvider({ keyId: 'alias/cachevault', client: kms.client });
    const key = Buffer.alloc(32, 7);
    const wrapped = await provider.wrap(key, context);
    expect(kms.mock).toHaveReceivedCommandWith(EncryptCommand, { KeyId: KMS_KEY_ARN, EncryptionContext: { app: 'shop', env: 'prod', keyId: 'k3' } });
    await expect(provider.unwrap(wrapped, context)).resolves.toEqual(key);
  });

  it('zeroes the plaintext the SDK returned once it has copied it', async () => {
    const kms = fakeKms();
    const sdkPlaintext = new Uint8Array(32).fill(9);
    kms.mock.on(GenerateDataKeyCommand).resolves({ Plaintext: sdkPlaintext, CiphertextBlob: new Uint8Array(40), KeyId: KMS_KEY_ARN });
    const provider = new KmsKeyProvider({ keyId: 'alias/cachevault', client: kms.client });
    const { plaintext } = await provider.generateDataKey(context);
    expect(plaintext.equals(Buffer.alloc(32, 9))).toBe(true);
    expect(sdkPlaintext.every((b) => b === 0)).toBe(true);
  });

  describe('maps KMS failures to errors that say what to do', () => {
    const cases: [string, Error, KeyProviderFailure, RegExp, RegExp][] = [
      ['AccessDenied on Decrypt', awsError('AccessDeniedException'), KeyProviderFailure.accessDenied, /denied kms:Decrypt on key alias\/cachevault/, /Grant kms:Decrypt on alias\/cachevault/],
      ['a missing key', awsError('NotFoundException'), KeyProviderFailure.notFound, /does not exist/, /keys\.kms\.keyId/],
      ['a disabled key', awsError('DisabledException'), KeyProviderFailure.disabled, /is disabled/, /enable-key/],
      ['a key pending deletion', awsError('KMSInvalidStateException'), KeyProviderFailure.disabled, /not usable/, /cancel-key-deletion/],
      ['throttling after the SDK retries', awsError('ThrottlingException'), KeyProviderFailure.throttled, /throttled kms:Decrypt .* after retries/, /quota/],
      ['no credentials', awsError('CredentialsProviderError'), KeyProviderFailure.noCredentials, /No AWS credentials/, /AWS credentials/],
      ['expired credentials', awsError('ExpiredTokenException'), KeyProviderFailure.noCredentials, /rejected the AWS credentials/, /Refresh/],
      ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED' }), KeyProviderFailure.network, /unreachable \(ECONNREFUSED\)/, /network access/],
      ['a request timeout', awsError('TimeoutError'), KeyProviderFailure.network, /did not answer/, /network access/],
      ['a 503 from KMS', awsError('ServiceUnavailable', { $metadata: { httpStatusCode: 503 } }), KeyProviderFailure.serviceUnavailable, /HTTP 503/, /Transient/],
    ];
    it.each(cases)('%s', async (_label, sdkError, failure, message, hint) => {
      const kms = fakeKms();
      kms.mock.on(DecryptCommand).rejects(sdkError);
      const provider = new KmsKeyProvider({ keyId: 'alias/cachevault', client: kms.client });
      const error = (await provider
        .unwrap({ provider: 'kms', wrappingKeyRef: 'alias/cachevault', ciphertext: 'AAAA' }, context)
        .catch((e: unknown) => e)) as KeyProviderError;
      expect(error).toBeInstanceOf(KeyProviderError);
      expect(error.failure).toBe(failure);
      expect(error.isOutage).toBe(true);
      expect(error.message).toMatch(message);
      expect(error.hint).toMatch(hint);
      expect(error.cause).toBe(sdkError);
    });

    it('keeps an unknown SDK error as the cause of a service failure', async () => {
      const kms = fakeKms();
      const sdkError = awsError('SomethingNewException');
      kms.mock.on(GenerateDataKeyCommand).rejects(sdkError);
      const provider = new KmsKeyProvider({ keyId: 'alias/cachevault', client: kms.client });
      const error = (await provider.generateDataKey(context).catch((e: unknown) => e)) as KeyProviderError;
      expect(error.message).toMatch(/kms:GenerateDataKey failed unexpectedly: SomethingNewException/);
      expect(error.cause).toBe(sdkError);
    });
  });

  it('probe() succeeds with working KMS and reports the reason when it does not', async () => {
    const kms = fakeKms();
    const provider = new KmsKeyProvider({ keyId: 'alias/cachevault', client: kms.client });
    await expect(provider.probe()).resolves.toEqual({ ok: true });
    kms.failWith(awsError('AccessDeniedException'));
    await expect(provider.probe()).resolves.toEqual({ ok: false, reason: expect.stringMatching(/denied kms:GenerateDataKey on key alias\/cachevault/) });
  });

  it('probe() asks KMS under the deployment\'s own encryption context, as the IAM conditions expect', async () => {
    const kms = fakeKms();
    const provider = new KmsKeyProvider({ keyId: 'alias/cachevault', client: kms.client, app: 'shop', environment: 'prod' });
    await expect(provider.probe()).resolves.toEqual({ ok: true });
    const call = kms.mock.calls().find((c) => c.args[0] instanceof GenerateDataKeyCommand)!;
    expect((call.args[0].input as { EncryptionContext: Record<string, string> }).EncryptionContext).toMatchObject({ app: 'shop', env: 'prod' });
  });
});

describe('KmsKeyProvider pinned to the configured key', () => {
  const OTHER_ARN = 'arn:aws:kms:us-east-1:999999999999:key/ffffffff-0000-1111-2222-333333333333';

  it('resolves an alias once (DescribeKey) and names the key ARN in every call', async () => {
    const kms = fakeKms();
    const provider = new KmsKeyProvider({ keyId: 'alias/cachevault', client: kms.client });
    const { wrapped } = await provider.generateDataKey(context);
    await provider.unwrap(wrapped, context);
    await provider.wrap(randomBytes(32), context);
    expect(kms.mock.commandCalls(DescribeKeyCommand)).toHaveLength(1);
    for (const command of [GenerateDataKeyCommand, DecryptCommand, EncryptCommand] as const) {
      expect(kms.mock.commandCalls(command as typeof DecryptCommand).every((c) => c.args[0].input.KeyId === KMS_KEY_ARN)).toBe(true);
    }
  });

  it('refuses a wrapped key that names another KMS key, before any Decrypt', async () => {
    const kms = fakeKms();
    const provider = new KmsKeyProvider({ keyId: KMS_KEY_ARN, client: kms.client });
    const { wrapped } = await provider.generateDataKey(context);
    const error = await provider.unwrap({ ...wrapped, wrappingKeyRef: OTHER_ARN }, context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KmsKeyMismatchError);
    expect(error).toMatchObject({ code: 'KMS_KEY_MISMATCH', hint: expect.stringContaining('keys rewrap') });
    expect(kms.mock.commandCalls(DecryptCommand)).toHaveLength(0);
  });

  it('unwraps under a former key only when the caller names it (keys rewrap)', async () => {
    const kms = fakeKms();
    const provider = new KmsKeyProvider({ keyId: KMS_KEY_ARN, client: kms.client });
    const { wrapped, plaintext } = await provider.generateDataKey(context);
    await expect(provider.unwrapFrom(wrapped, context, OTHER_ARN)).rejects.toBeInstanceOf(KmsKeyMismatchError);
    await expect(provider.unwrapFrom(wrapped, context, KMS_KEY_ARN)).resolves.toEqual(plaintext);
  });
});
