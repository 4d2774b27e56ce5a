import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { inspect } from 'node:util';
import { KeyProviderError, KeyProviderFailure, KmsKeyMismatchError, providerFix } from './errors';
import type { KeyContext, RewrappableKeyProvider, WrappedKey } from './keyProvider';

export interface KmsKeyProviderOptions {
  /** KMS key id, ARN or alias (`alias/...`) that wraps data keys. */
  readonly keyId: string;
  /** A configured client; otherwise one is built from `region`, `endpoint`, `maxAttempts`. */
  readonly client?: KMSClient;
  readonly region?: string;
  readonly endpoint?: string;
  /** SDK attempts (throttling and transient errors are retried by the SDK). @default 3 */
  readonly maxAttempts?: number;
  /** Per-request timeout, so an unreachable endpoint fails over quickly. @default 3000 */
  readonly requestTimeoutMs?: number;
  /**
   * App and environment the probe binds into its encryption context, so the probe passes exactly
   * the IAM conditions (`kms:EncryptionContext:app` / `env`) real calls do. @default 'cachevault' / 'probe'
   */
  readonly app?: string;
  readonly environment?: string;
}

/** The IAM action each KMS operation needs, for AccessDenied messages. */
const ACTION = {
  generate: 'kms:GenerateDataKey',
  wrap: 'kms:Encrypt',
  unwrap: 'kms:Decrypt',
  probe: 'kms:GenerateDataKey',
  resolve: 'kms:DescribeKey',
} as const;

/** A full KMS key ARN (not an alias ARN): used as is, with no DescribeKey call. */
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
type Operation = keyof typeof ACTION;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/**
 * Envelope encryption under an AWS KMS key: data keys come from `GenerateDataKey` (AES_256) and
 * are unwrapped with `Decrypt`, each bound to the encryption context `{ app, env, keyId }`, so
 * a wrapped key copied to another app, environment or version id does not decrypt (and
 * CloudTrail shows which key version every call was for).
 *
 * Pinned to the configured key: an alias or key id is resolved to its key ARN once
 * (DescribeKey), every call names that ARN, and a wrapped key that names another KMS key is
 * refused before any call (KmsKeyMismatchError). The manifest never chooses the key: whoever
 * can write it cannot point clients at a key they control. An alias moved on purpose is
 * followed by `keys rewrap --from <old ARN>`.
 */
export class KmsKeyProvider implements RewrappableKeyProvider {
  readonly name = 'kms' as const;
  readonly keyId: string;
  private readonly client: KMSClient;
  private readonly probeContext: KeyContext;
  private resolving: Promise<string> | undefined;

  constructor(options: KmsKeyProviderOptions) {
    this.keyId = options.keyId;
    this.probeContext = { app: options.app ?? 'cachevault', environment: options.environment ?? 'probe', keyId: 'probe' };
    this.client =
      options.client ??
      new KMSClient({
        region: options.region,
        endpoint: options.endpoint,
        maxAttempts: options.maxAttempts ?? 3,
        requestHandler: { requestTimeout: options.requestTimeoutMs ?? 3_000, connectionTimeout: options.requestTimeoutMs ?? 3_000 },
      });
  }

  async generateDataKey(context: KeyContext): Promise<{ plaintext: Buffer; wrapped: WrappedKey }> {
    const out = await this.send('generate', context, () =>
      this.resolved().then((keyArn) => this.client.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: encryptionContext(context) }))),
    );
    if (!out.Plaintext || !out.CiphertextBlob) throw this.malformed('GenerateDataKey');
    const plaintext = Buffer.from(out.Plaintext);
    out.Plaintext.fill(0);
    return { plaintext, wrapped: this.wrapped(out.CiphertextBlob, out.KeyId) };
  }

  async wrap(plaintext: Buffer, context: KeyContext): Promise<WrappedKey> {
    const out = await this.send('wrap', context, () =>
      this.resolved().then((keyArn) => this.client.send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext, EncryptionContext: encryptionContext(context) }))),
    );
    if (!out.CiphertextBlob) throw this.malformed('Encrypt');
    return this.wrapped(out.CiphertextBlob, out.KeyId);
  }

  async unwrap(wrapped: WrappedKey, context: KeyContext): Promise<Buffer> {
    const keyArn = await this.send('resolve', context, () => this.resolved());
    // The stored reference is checked, never used: Decrypt names the configured key.
    if (wrapped.wrappingKeyRef !== keyArn && wrapped.wrappingKeyRef !== this.keyId) throw new KmsKeyMismatchError(context.keyId, wrapped.wrappingKeyRef, keyArn);
    return this.decrypt(wrapped, context, keyArn);
  }

  /** The configured key's ARN (resolved once), the reference new wrappings carry. */
  currentKeyRef(): Promise<string> {
    return this.send('resolve', this.probeContext, () => this.resolved());
  }

  /**
   * Unwraps a key wrapped under `fromKeyRef` (a former key the operator names, after moving the
   * alias): for `keys rewrap` only. Any other reference is refused, as in `unwrap`.
   */
  async unwrapFrom(wrapped: WrappedKey, context: KeyContext, fromKeyRef: string): Promise<Buffer> {
    if (wrapped.wrappingKeyRef !== fromKeyRef) throw new KmsKeyMismatchError(context.keyId, wrapped.wrappingKeyRef, fromKeyRef);
    return this.decrypt(wrapped, context, fromKeyRef);
  }

  private async decrypt(wrapped: WrappedKey, context: KeyContext, keyArn: string): Promise<Buffer> {
    const out = await this.send('unwrap', context, () =>
      this.client.send(
        new DecryptCommand({
          // Naming the key makes KMS refuse a ciphertext made under any other key.
          KeyId: keyArn,
          CiphertextBlob: Buffer.from(wrapped.ciphertext, 'base64'),
          EncryptionContext: encryptionContext(context),
        }),
      ),
    );
    if (!out.Plaintext) throw this.malformed('Decrypt');
    const plaintext = Buffer.from(out.Plaintext);
    out.Plaintext.fill(0);
    if (out.KeyId !== undefined && out.KeyId !== keyArn) {
      plaintext.fill(0);
      throw new KmsKeyMismatchError(context.keyId, out.KeyId, keyArn);
    }
    return plaintext;
  }

  /** The configured key id resolved to its key ARN, once; a failed resolution is retried next time. */
  private resolved(): Promise<string> {
    if (KEY_ARN.test(this.keyId)) return Promise.resolve(this.keyId);
    this.resolving ??= this.client
      .send(new DescribeKeyCommand({ KeyId: this.keyId }))
      .then((out) => {
        const arn = out.KeyMetadata?.Arn;
        if (!arn) throw this.malformed('DescribeKey');
        return arn;
      })
      .catch((error: unknown) => {
        this.resolving = undefined;
        throw error;
      });
    return this.resolving;
  }

  /** Asks KMS for a data key without plaintext: proves credentials, network and permissions. */
  async probe(): Promise<{ ok: true } | { ok: false; reason: string }> {
    // The action real writes use (GenerateDataKey), under this deployment's context: a role the
    // CDK stack made for this app and environment passes exactly when real calls would.
    const context = this.probeContext;
    try {
      const out = await this.send('probe', context, () =>
        this.resolved().then((keyArn) => this.client.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: encryptionContext(context) }))),
      );
      out.Plaintext?.fill(0);
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: error instanceof Error ? error.message : String(error) };
    }
  }


  close(): void {
    this.client.destroy();
  }

  /** The SDK client's internals can hold request inputs (plaintext for Encrypt): never print them. */
  [inspect.custom](): string {
    return `KmsKeyProvider { keyId: ${JSON.stringify(this.keyId)} }`;
  }

  toJSON(): { name: 'kms'; keyId: string } {
    return { name: 'kms', keyId: this.keyId };
  }

  private wrapped(blob: Uint8Array, arn: string | undefined): WrappedKey {
    return { provider: 'kms', wrappingKeyRef: arn ?? this.keyId, ciphertext: Buffer.from(blob).toString('base64') };
  }

  private malformed(operation: string): KeyProviderError {
    return new KeyProviderError('kms', KeyProviderFailure.serviceUnavailable, `KMS ${operation} returned no key material.`, {
      hint: 'Check that keys.kms.endpoint points at AWS KMS (or a faithful emulator).',
    });
  }

  private async send<T>(operation: Operation, context: KeyContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw mapKmsError(error, ACTION[operation], this.keyId, context);
    }
  }
}

function encryptionContext(context: KeyContext): Record<string, string> {
  return { app: context.app, env: context.environment, keyId: context.keyId };
}

/** Turns an AWS SDK error into a KeyProviderError that says what to do; keeps the original as cause. */
export function mapKmsError(error: unknown, action: string, kmsKeyId: string, context: KeyContext): KeyProviderError {
  const err = error as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = err.name ?? '';
  const code = err.code ?? '';
  const where = { kmsKeyId, keyId: context.keyId, action };
  const make = (failure: KeyProviderFailure, message: string, hint: string) =>
    new KeyProviderError('kms', failure, message, { hint, cause: error, context: where });

  switch (name) {
    case 'AccessDeniedException':
      return make(
        KeyProviderFailure.accessDenied,
        `KMS denied ${action} on key ${kmsKeyId}.`,
        `Grant ${action} on ${kmsKeyId} to this role (key policy or IAM), with the encryption context keys app, env and keyId allowed.`,
      );
    case 'NotFoundException':
      return make(KeyProviderFailure.notFound, `KMS key ${kmsKeyId} does not exist in this account and region.`, 'Check keys.kms.keyId and keys.kms.region (an alias needs the alias/ prefix).');
    case 'DisabledException':
      return make(KeyProviderFailure.disabled, `KMS key ${kmsKeyId} is disabled.`, 'Enable the key in KMS (aws kms enable-key), or point keys.kms.keyId at an enabled key.');
    case 'KMSInvalidStateException':
      return make(KeyProviderFailure.disabled, `KMS key ${kmsKeyId} is not usable in its current state (pending deletion or import).`, 'Cancel the key deletion (aws kms cancel-key-deletion) or use another key.');
    case 'InvalidCiphertextException':
    case 'IncorrectKeyException':
      return make(
        KeyProviderFailure.invalidCiphertext,
        `KMS could not decrypt the wrapped data key ${context.keyId} (wrong key, damaged manifest or different encryption context).`,
        'Check that keys.app and keys.environment match the ones the key was created with; else restore the manifest from a backup.',
      );
    case 'ThrottlingException':
    case 'LimitExceededException':
      return make(KeyProviderFailure.throttled, `KMS throttled ${action} on key ${kmsKeyId} after retries.`, 'Raise the KMS request quota or keys.kms.cacheMaxAgeMs so fewer calls are made.');
    case 'KMSInternalException':
    case 'DependencyTimeoutException':
    case 'KeyUnavailableException':
      return make(KeyProviderFailure.serviceUnavailable, `KMS could not serve ${action} on key ${kmsKeyId} (${name}).`, 'Transient on the KMS side; it is retried on the next key fetch.');
    case 'CredentialsProviderError':
      return make(KeyProviderFailure.noCredentials, 'No AWS credentials were found for KMS.', providerFix('kms'));
    case 'UnrecognizedClientException':
    case 'InvalidSignatureException':
    case 'ExpiredTokenException':
    case 'InvalidClientTokenId':
      return make(KeyProviderFailure.noCredentials, `KMS rejected the AWS credentials (${name}).`, 'Refresh or fix the AWS credentials (expired session, wrong secret key or region).');
    case 'TimeoutError':
    case 'RequestTimeout':
    case 'NetworkingError':
      return make(KeyProviderFailure.network, `KMS did not answer ${action} (${name}).`, 'Check network access to KMS (VPC endpoint, proxy, keys.kms.endpoint).');
  }
  if (NETWORK_CODES.has(code) || NETWORK_CODES.has(name)) {
    return make(KeyProviderFailure.network, `KMS is unreachable (${code || name}).`, 'Check network access to KMS (VPC endpoint, proxy, keys.kms.endpoint).');
  }
  const status = err.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) {
    return make(KeyProviderFailure.serviceUnavailable, `KMS returned HTTP ${status} for ${action}.`, 'Transient on the KMS side; it is retried on the next key fetch.');
  }
  return new KeyProviderError('kms', KeyProviderFailure.serviceUnavailable, `KMS ${action} failed unexpectedly: ${name || 'error'}: ${err.message ?? String(error)}`, {
    hint: 'See the cause; if it persists, check the KMS key and the AWS SDK configuration.',
    cause: error,
    context: where,
  });
}
