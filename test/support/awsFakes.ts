/**
 * Stateful stand-ins for KMS and Secrets Manager (no local server exists for either), built on
 * aws-sdk-client-mock. They keep just enough state to behave like the services for the client's
 * key manager and rotation steps: wrapped keys bound to their encryption context, secret versions
 * and their staging labels.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';

/** An error shaped like the SDK's service exceptions (`name` is what callers switch on). */
export function awsError(name: string, message = name): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

const contextKey = (context: Record<string, string> | undefined) =>
  JSON.stringify(Object.entries(context ?? {}).sort(([a], [b]) => a.localeCompare(b)));

export class FakeKms {
  private readonly stub: { restore(): void };
  /** Set to make the next calls of an operation fail with this error. */
  readonly failures: { generateDataKey?: Error; decrypt?: Error } = {};
  readonly calls = { generateDataKey: 0, decrypt: 0 };
  private readonly wrapped = new Map<string, { plaintext: Buffer; context: string; keyId: string }>();

  constructor() {
    const kms = mockClient(KMSClient);
    this.stub = kms;
    kms.on(GenerateDataKeyCommand).callsFake((input: { KeyId?: string; EncryptionContext?: Record<string, string> }) => {
      this.calls.generateDataKey += 1;
      if (this.failures.generateDataKey) throw this.failures.generateDataKey;
      const plaintext = randomBytes(32);
      const blob = randomBytes(64);
      this.wrapped.set(blob.toString('base64'), { plaintext: Buffer.from(plaintext), context: contextKey(input.EncryptionContext), keyId: input.KeyId ?? '' });
      return { Plaintext: new Uint8Array(plaintext), CiphertextBlob: new Uint8Array(blob), KeyId: input.KeyId };
    });
    kms.on(DecryptCommand).callsFake((input: { CiphertextBlob?: Uint8Array; EncryptionContext?: Record<string, string> }) => {
      this.calls.decrypt += 1;
      if (this.failures.decrypt) throw this.failures.decrypt;
      const found = this.wrapped.get(Buffer.from(input.CiphertextBlob ?? []).toString('base64'));
      // KMS refuses a blob presented with any other encryption context than it was made with.
      if (!found || found.context !== contextKey(input.EncryptionContext)) throw awsError('InvalidCiphertextException');
      return { Plaintext: new Uint8Array(found.plaintext), KeyId: found.keyId };
    });
  }

  restore(): void {
    this.stub.restore();
  }
}

interface SecretVersion {
  value: string | undefined;
  stages: Set<string>;
}

export class FakeSecretsManager {
  readonly failures: { updateSecretVersionStage?: Error; putSecretValue?: Error } = {};
  readonly versions = new Map<string, SecretVersion>();
  rotationEnabled = true;
  private readonly stub: { restore(): void };

  /** Starts like the stack's secret: one AWSCURRENT version holding the `{}` placeholder. */
  constructor(readonly secretId: string, initialValue = '{}') {
    this.versions.set('initial', { value: initialValue, stages: new Set(['AWSCURRENT']) });
    const sm = mockClient(SecretsManagerClient);
    this.stub = sm;
    sm.on(DescribeSecretCommand).callsFake(() => ({
      ARN: this.secretId,
      RotationEnabled: this.rotationEnabled,
      VersionIdsToStages: Object.fromEntries([...this.versions].map(([id, v]) => [id, [...v.stages]])),
    }));
    sm.on(GetSecretValueCommand).callsFake((input: { VersionId?: string; VersionStage?: string }) => {
      const [id, version] = this.find(input.VersionId, input.VersionStage ?? (input.VersionId ? undefined : 'AWSCURRENT'));
      if (!version || version.value === undefined) throw awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value");
      return { ARN: this.secretId, VersionId: id, SecretString: version.value, VersionStages: [...version.stages] };
    });
    sm.on(PutSecretValueCommand).callsFake((input: { ClientRequestToken?: string; SecretString?: string; VersionStages?: string[] }) => {
      if (this.failures.putSecretValue) throw this.failures.putSecretValue;
      const id = input.ClientRequestToken ?? randomUUID();
      const existing = this.versions.get(id);
      if (existing?.value !== undefined && existing.value !== input.SecretString) {
        throw awsError('ResourceExistsException', 'A version with this token already exists with other content');
      }
      const stages = input.VersionStages ?? ['AWSCURRENT'];
      for (const stage of stages) this.label(id, stage);
      this.versions.set(id, { value: input.SecretString, stages: new Set([...(existing?.stages ?? []), ...stages]) });
      return { ARN: this.secretId, VersionId: id, VersionStages: stages };
    });
    sm.on(UpdateSecretVersionStageCommand).callsFake((input: { VersionStage?: string; MoveToVersionId?: string; RemoveFromVersionId?: string }) => {
      if (this.failures.updateSecretVersionStage) throw this.failures.updateSecretVersionStage;
      const stage = input.VersionStage ?? '';
      const [holder] = this.find(undefined, stage);
      if (holder !== undefined && holder !== input.MoveToVersionId && holder !== input.RemoveFromVersionId) {
        throw awsError('InvalidParameterException', `${stage} is attached to ${holder}, not ${input.RemoveFromVersionId}`);
      }
      if (!input.MoveToVersionId || !this.versions.has(input.MoveToVersionId)) throw awsError('ResourceNotFoundException');
      this.label(input.MoveToVersionId, stage);
      if (stage === 'AWSCURRENT') {
        // The rotation is over: the new current version is no longer pending.
        this.versions.get(input.MoveToVersionId)?.stages.delete('AWSPENDING');
        if (holder && holder !== input.MoveToVersionId) this.label(holder, 'AWSPREVIOUS');
      }
      return { ARN: this.secretId };
    });
  }

  /** What RotateSecret does before it invokes the rotation function: an AWSPENDING version with no value. */
  startRotation(): string {
    const token = randomUUID();
    this.versions.set(token, { value: undefined, stages: new Set() });
    this.label(token, 'AWSPENDING');
    return token;
  }

  /** The manifest AWSCURRENT holds, parsed. */
  current(): { versions: { id: string; state: string }[] } & Record<string, unknown> {
    const [, version] = this.find(undefined, 'AWSCURRENT');
    return JSON.parse(version?.value ?? '{}') as { versions: { id: string; state: string }[] };
  }

  restore(): void {
    this.stub.restore();
  }

  private find(versionId: string | undefined, stage: string | undefined): [string | undefined, SecretVersion | undefined] {
    for (const [id, version] of this.versions) {
      if (versionId !== undefined && id !== versionId) continue;
      if (stage !== undefined && !version.stages.has(stage)) continue;
      return [id, version];
    }
    return [undefined, undefined];
  }

  /** Moves a staging label to `id` (a label is on at most one version). */
  private label(id: string, stage: string): void {
    for (const [other, version] of this.versions) if (other !== id) version.stages.delete(stage);
    const version = this.versions.get(id);
    if (version) version.stages.add(stage);
    else this.versions.set(id, { value: undefined, stages: new Set([stage]) });
  }
}

/** A Lambda context as the runtime passes it; `remainingMs` may count down per call. */
export function lambdaContext(functionName: string, remainingMs: () => number = () => 60_000) {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/11/27/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
