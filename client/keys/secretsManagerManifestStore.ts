import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { ManifestError } from './errors';
import { parseManifest, serializeManifest, type KeyManifest } from './keyManifest';
import type { ManifestStore } from './manifestStore';

export interface SecretsManagerManifestStoreOptions {
  /** Secret name or ARN; see `keyManifestSecretName(app, env)` for the stack's convention. */
  readonly secretId: string;
  readonly client?: SecretsManagerClient;
  readonly region?: string;
  readonly endpoint?: string;
}

/** Secrets Manager's staging labels used by rotation. */
export const SecretStage = { current: 'AWSCURRENT', pending: 'AWSPENDING', previous: 'AWSPREVIOUS' } as const;

/** A secret version and the staging labels on it. */
export interface SecretVersionInfo {
  readonly rotationEnabled: boolean;
  /** Version id to its staging labels. */
  readonly versions: Readonly<Record<string, readonly string[]>>;
}

/**
 * The key manifest as a Secrets Manager secret (JSON in `SecretString`), shared by every client
 * of a deployment. Plain `save` puts a new AWSCURRENT version; rotation puts an AWSPENDING one
 * under the rotation's ClientRequestToken and promotes it in `finishSecret`.
 */
export class SecretsManagerManifestStore implements ManifestStore {
  readonly shared = true;
  readonly secretId: string;
  private readonly client: SecretsManagerClient;

  constructor(options: SecretsManagerManifestStoreOptions) {
    this.secretId = options.secretId;
    this.client = options.client ?? new SecretsManagerClient({ region: options.region, endpoint: options.endpoint });
  }

  get description(): string {
    return `secretsmanager:${this.secretId}`;
  }

  load(): Promise<KeyManifest | undefined> {
    return this.loadVersion({ stage: SecretStage.current });
  }

  /** One version by id and/or stage; `undefined` when it does not exist or holds no manifest yet. */
  async loadVersion(which: { versionId?: string; stage?: string }): Promise<KeyManifest | undefined> {
    let text: string | undefined;
    try {
      const out = await this.client.send(
        new GetSecretValueCommand({ SecretId: this.secretId, VersionId: which.versionId, VersionStage: which.stage }),
      );
      text = out.SecretString;
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
      throw this.mapError(error, 'GetSecretValue');
    }
    // A secret created by the stack before the first client run holds a placeholder, not a manifest.
    if (text === undefined || text.trim() === '' || text.trim() === '{}') return undefined;
    return parseManifest(text, this.description);
  }

  async save(manifest: KeyManifest): Promise<void> {
    try {
      await this.client.send(new PutSecretValueCommand({ SecretId: this.secretId, SecretString: serializeManifest(manifest) }));
    } catch (error) {
      throw this.mapError(error, 'PutSecretValue');
    }
  }

  /** Puts `manifest` as the AWSPENDING version `token` (idempotent for the same token and content). */
  async putPending(manifest: KeyManifest, token: string): Promise<void> {
    try {
      await this.client.send(
        new PutSecretValueCommand({
          SecretId: this.secretId,
          ClientRequestToken: token,
          SecretString: serializeManifest(manifest),
          VersionStages: [SecretStage.pending],
        }),
      );
    } catch (error) {
      throw this.mapError(error, 'PutSecretValue');
    }
  }

  async describe(): Promise<SecretVersionInfo> {
    try {
      const out = await this.client.send(new DescribeSecretCommand({ SecretId: this.secretId }));
      return { rotationEnabled: out.RotationEnabled === true, versions: out.VersionIdsToStages ?? {} };
    } catch (error) {
      throw this.mapError(error, 'DescribeSecret');
    }
  }

  /** Moves AWSCURRENT to `versionId` (Secrets Manager then labels the old one AWSPREVIOUS). */
  async promote(versionId: string, fromVersionId: string | undefined): Promise<void> {
    try {
      await this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: this.secretId,
          VersionStage: SecretStage.current,
          MoveToVersionId: versionId,
          RemoveFromVersionId: fromVersionId,
        }),
      );
    } catch (error) {
      throw this.mapError(error, 'UpdateSecretVersionStage');
    }
  }

  close(): void {
    this.client.destroy();
  }

  private mapError(error: unknown, operation: string): ManifestError {
    const name = (error as { name?: string }).name ?? 'Error';
    const action = `secretsmanager:${operation}`;
    const context = { secretId: this.secretId, action };
    switch (name) {
      case 'AccessDeniedException':
        return new ManifestError(`Secrets Manager denied ${action} on ${this.secretId}.`, {
          cause: error,
          context,
          hint: `Grant ${action} on the key-manifest secret to this role (the stack's grantRead/grantWrite on the secret).`,
        });
      case 'DecryptionFailure':
        return new ManifestError(`Secrets Manager could not decrypt ${this.secretId} with its KMS key.`, {
          cause: error,
          context,
          hint: "Grant kms:Decrypt on the secret's KMS key to this role.",
        });
      case 'ResourceNotFoundException':
        return new ManifestError(`The secret ${this.secretId} does not exist.`, {
          cause: error,
          context,
          hint: 'Deploy the stack (it creates the key-manifest secret) or set keys.manifest.secretId.',
        });
      case 'ThrottlingException':
      case 'LimitExceededException':
        return new ManifestError(`Secrets Manager throttled ${action} on ${this.secretId}.`, {
          cause: error,
          context,
          hint: 'Retry later; clients read the manifest once and again only for unknown key ids.',
        });
      case 'InvalidRequestException':
        return new ManifestError(`Secrets Manager refused ${action} on ${this.secretId}: ${(error as Error).message}`, {
          cause: error,
          context,
          hint: 'The secret may be scheduled for deletion, or a version with this token already exists with other content.',
        });
      default:
        return new ManifestError(`Secrets Manager ${action} on ${this.secretId} failed: ${name}: ${(error as Error).message ?? String(error)}`, {
          cause: error,
          context,
          hint: 'Check AWS credentials, region and network access to Secrets Manager.',
        });
    }
  }
}
