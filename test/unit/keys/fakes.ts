/**
 * Test doubles for key management: an in-memory keyring (same surface as @napi-rs/keyring's
 * AsyncEntry), an in-memory manifest store, a collecting logger and audit sink.
 */
import { randomBytes } from 'node:crypto';
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { AuditDetails, AuditEvent, AuditSink } from '../../../client/audit/auditLog';
import type { KeyManifest } from '../../../client/keys/keyManifest';
import type { KeyringEntry } from '../../../client/keys/keyringKeyProvider';
import type { ManifestStore } from '../../../client/keys/manifestStore';
import type { Logger } from '../../../client/types';

/** One machine's keyring: entries by service/account. `broken` makes every call fail like a missing D-Bus. */
export class FakeKeyring {
  readonly entries = new Map<string, Buffer>();
  broken: string | undefined;
  calls = 0;

  factory = (service: string, account: string): KeyringEntry => {
    const id = `${service}/${account}`;
    const fail = () => {
      if (this.broken !== undefined) throw Object.assign(new Error(this.broken), { code: 'GenericFailure' });
    };
    return {
      getSecret: async () => {
        this.calls += 1;
        fail();
        const value = this.entries.get(id);
        return value ? Array.from(value) : null;
      },
      setSecret: async (secret: Uint8Array) => {
        this.calls += 1;
        fail();
        this.entries.set(id, Buffer.from(secret));
      },
      deleteCredential: async () => {
        this.calls += 1;
        fail();
        return this.entries.delete(id);
      },
    };
  };
}

export class MemoryManifestStore implements ManifestStore {
  readonly description = 'memory:test';
  text: string | undefined;
  loads = 0;
  saves = 0;
  constructor(readonly shared = false) {}
  async load(): Promise<KeyManifest | undefined> {
    this.loads += 1;
    return this.text === undefined ? undefined : (JSON.parse(this.text) as KeyManifest);
  }
  async save(manifest: KeyManifest): Promise<void> {
    this.saves += 1;
    this.text = JSON.stringify(manifest);
  }
  get manifest(): KeyManifest | undefined {
    return this.text === undefined ? undefined : (JSON.parse(this.text) as KeyManifest);
  }
}

export interface LogLine {
  readonly level: string;
  readonly obj: object;
  readonly msg: string | undefined;
}

export class CollectingLogger implements Logger {
  readonly lines: LogLine[] = [];
  debug(obj: object, msg?: string): void {
    this.lines.push({ level: 'debug', obj, msg });
  }
  info(obj: object, msg?: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg?: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg?: string): void {
    this.lines.push({ level: 'error', obj, msg });
  }
  child(): Logger {
    return this;
  }
  at(level: string): LogLine[] {
    return this.lines.filter((l) => l.level === level);
  }
  text(): string {
    return this.lines.map((l) => `${l.level} ${l.msg ?? ''} ${JSON.stringify(l.obj)}`).join('\n');
  }
}

export class CollectingAudit implements AuditSink {
  readonly events: { event: AuditEvent; details: AuditDetails }[] = [];
  append(event: AuditEvent, details: AuditDetails = {}): void {
    this.events.push({ event, details });
  }
  of(event: AuditEvent): AuditDetails[] {
    return this.events.filter((e) => e.event === event).map((e) => e.details);
  }
}


export const KMS_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/**
 * A KMS double on aws-sdk-client-mock that behaves like KMS for what we use: ciphertexts are
 * opaque random handles, Decrypt checks the encryption context and key id, like the real service.
 */
export function fakeKms() {
  const client = new KMSClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const mock = mockClient(client);
  const vault = new Map<string, { plaintext: Buffer; context: string }>();
  const invalid = () => Object.assign(new Error('InvalidCiphertextException'), { name: 'InvalidCiphertextException' });
  const issue = (plaintext: Buffer, context: Record<string, string> | undefined) => {
    const blob = randomBytes(48);
    vault.set(blob.toString('base64'), { plaintext: Buffer.from(plaintext), context: JSON.stringify(context ?? {}) });
    return blob;
  };
  const healthy = () => {
    mock.reset();
    mock.on(GenerateDataKeyCommand).callsFake((input: { EncryptionContext?: Record<string, string> }) => {
      const plaintext = randomBytes(32);
      return { Plaintext: new Uint8Array(plaintext), CiphertextBlob: issue(plaintext, input.EncryptionContext), KeyId: KMS_KEY_ARN };
    });
    mock.on(EncryptCommand).callsFake((input: { Plaintext: Uint8Array; EncryptionContext?: Record<string, string> }) => ({
      CiphertextBlob: issue(Buffer.from(input.Plaintext), input.EncryptionContext),
      KeyId: KMS_KEY_ARN,
    }));
    mock.on(DecryptCommand).callsFake((input: { CiphertextBlob: Uint8Array; KeyId?: string; EncryptionContext?: Record<string, string> }) => {
      const found = vault.get(Buffer.from(input.CiphertextBlob).toString('base64'));
      if (!found || found.context !== JSON.stringify(input.EncryptionContext ?? {}) || (input.KeyId && input.KeyId !== KMS_KEY_ARN)) throw invalid();
      return { Plaintext: new Uint8Array(found.plaintext), KeyId: KMS_KEY_ARN };
    });
    mock.on(GenerateDataKeyWithoutPlaintextCommand).resolves({ CiphertextBlob: randomBytes(48), KeyId: KMS_KEY_ARN });
    // The configured alias resolves to the one key this double holds.
    mock.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: KMS_KEY_ARN.split('/')[1]!, Arn: KMS_KEY_ARN } });
  };
  healthy();
  /** Every call fails with `error` (an outage) until `healthy()`. */
  const failWith = (error: Error) => {
    mock.reset();
    mock.onAnyCommand().rejects(error);
  };
  const calls = (command: typeof GenerateDataKeyCommand | typeof DecryptCommand | typeof EncryptCommand) =>
    mock.calls().filter((call) => call.args[0] instanceof command).length;
  return { client, mock, healthy, failWith, calls };
}

/** AWS SDK-shaped errors, as the SDK throws them. */
export function awsError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name}: simulated`), { name, $metadata: { httpStatusCode: 400 }, ...extra });
}

/**
 * A Secrets Manager double for one secret: versions with staging labels, GetSecretValue by id
 * and/or stage, PutSecretValue idempotent per ClientRequestToken, UpdateSecretVersionStage.
 */
export function fakeSecretsManager(secretId = 'cachevault/shop/dev/key-manifest') {
  const client = new SecretsManagerClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const mock = mockClient(client);
  const versions = new Map<string, { text: string | undefined; stages: string[] }>();
  let counter = 0;
  let rotationEnabled = true;
  const notFound = () => awsError('ResourceNotFoundException');
  const move = (stage: string, to: string) => {
    for (const v of versions.values()) v.stages = v.stages.filter((s) => s !== stage);
    versions.get(to)!.stages.push(stage);
  };
  const install = () => {
    mock.reset();
    mock.on(GetSecretValueCommand).callsFake((input: { SecretId: string; VersionId?: string; VersionStage?: string }) => {
      if (input.SecretId !== secretId) throw notFound();
      const entry = input.VersionId
        ? versions.get(input.VersionId)
        : [...versions.values()].find((v) => v.stages.includes(input.VersionStage ?? 'AWSCURRENT'));
      if (!entry || entry.text === undefined || (input.VersionStage && !entry.stages.includes(input.VersionStage))) throw notFound();
      return { SecretString: entry.text, VersionStages: entry.stages };
    });
    mock.on(PutSecretValueCommand).callsFake((input: { ClientRequestToken?: string; SecretString?: string; VersionStages?: string[] }) => {
      const token = input.ClientRequestToken ?? `auto-${++counter}`;
      const existing = versions.get(token);
      if (existing && existing.text !== undefined) {
        if (existing.text !== input.SecretString) throw awsError('ResourceExistsException');
        return { VersionId: token };
      }
      const stages = input.VersionStages ?? ['AWSCURRENT'];
      versions.set(token, { text: input.SecretString, stages: existing?.stages ?? [] });
      for (const stage of stages) {
        if (stage === 'AWSCURRENT') {
          const old = [...versions.entries()].find(([id, v]) => id !== token && v.stages.includes('AWSCURRENT'));
          if (old) move('AWSPREVIOUS', old[0]);
        }
        move(stage, token);
      }
      return { VersionId: token };
    });
    mock.on(DescribeSecretCommand).callsFake(() => ({
      RotationEnabled: rotationEnabled,
      VersionIdsToStages: Object.fromEntries([...versions.entries()].map(([id, v]) => [id, [...v.stages]])),
    }));
    mock.on(UpdateSecretVersionStageCommand).callsFake((input: { VersionStage: string; MoveToVersionId?: string; RemoveFromVersionId?: string }) => {
      if (!input.MoveToVersionId || !versions.has(input.MoveToVersionId)) throw notFound();
      const current = [...versions.entries()].find(([, v]) => v.stages.includes(input.VersionStage));
      if (current && current[0] !== input.RemoveFromVersionId) throw awsError('InvalidParameterException');
      if (input.VersionStage === 'AWSCURRENT' && current) move('AWSPREVIOUS', current[0]);
      move(input.VersionStage, input.MoveToVersionId);
      const moved = versions.get(input.MoveToVersionId)!;
      moved.stages = moved.stages.filter((s) => input.VersionStage !== 'AWSCURRENT' || s !== 'AWSPENDING');
      return {};
    });
  };
  install();
  /** What Secrets Manager does when a rotation starts: a version for the token, staged AWSPENDING, no value yet. */
  const startRotation = (token: string) => {
    versions.set(token, { text: undefined, stages: [] });
    move('AWSPENDING', token);
  };
  return {
    client,
    mock,
    versions,
    secretId,
    install,
    startRotation,
    setRotationEnabled(on: boolean) {
      rotationEnabled = on;
    },
    stagesOf(id: string) {
      return versions.get(id)?.stages ?? [];
    },
  };
}
