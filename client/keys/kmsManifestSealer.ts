import { GenerateMacCommand, KMSClient, VerifyMacCommand } from '@aws-sdk/client-kms';
import { ManifestError } from './errors';
import { mapKmsError } from './kmsKeyProvider';
import type { ManifestSealer } from './manifestSeal';

export interface KmsManifestSealerOptions {
  /** An HMAC_256 KMS key (`keys.kms.macKeyId`): ARN, key id or alias. */
  readonly macKeyId: string;
  readonly client?: KMSClient;
  readonly region?: string;
  readonly endpoint?: string;
}

/**
 * The manifest MAC for manifests shared through Secrets Manager: KMS GenerateMac/VerifyMac with an
 * HMAC_SHA_256 key. The key never leaves KMS, and IAM splits the two uses: only the rotation
 * function (and an administrator changing the manifest by hand) may GenerateMac; every client
 * may VerifyMac. VerifyMac always names the configured key, never one the manifest names, so a
 * manifest MACed under a key its writer controls does not verify.
 */
export class KmsManifestSealer implements ManifestSealer {
  readonly macKeyId: string;
  private readonly client: KMSClient;

  constructor(options: KmsManifestSealerOptions) {
    this.macKeyId = options.macKeyId;
    this.client = options.client ?? new KMSClient({ region: options.region, endpoint: options.endpoint });
  }

  get description(): string {
    return `the KMS HMAC key ${this.macKeyId}`;
  }

  async sign(data: Buffer): Promise<{ mac: Buffer; keyRef: string }> {
    try {
      const out = await this.client.send(new GenerateMacCommand({ KeyId: this.macKeyId, MacAlgorithm: 'HMAC_SHA_256', Message: data }));
      if (!out.Mac) throw new ManifestError('KMS GenerateMac returned no MAC.', { hint: 'Check that keys.kms.endpoint points at AWS KMS.' });
      return { mac: Buffer.from(out.Mac), keyRef: `kms:${out.KeyId ?? this.macKeyId}` };
    } catch (error) {
      if (error instanceof ManifestError) throw error;
      const mapped = mapKmsError(error, 'kms:GenerateMac', this.macKeyId, { app: '-', environment: '-', keyId: 'manifest' });
      throw new ManifestError(`Could not MAC the key manifest: ${mapped.message}`, {
        cause: error,
        hint:
          mapped.failure === 'access-denied'
            ? `Only the rotation function and administrators may change a shared key manifest (kms:GenerateMac on ${this.macKeyId}); run this from such a role, or let the rotation function do it.`
            : mapped.hint,
      });
    }
  }

  async verify(data: Buffer, mac: Buffer): Promise<boolean> {
    try {
      const out = await this.client.send(new VerifyMacCommand({ KeyId: this.macKeyId, MacAlgorithm: 'HMAC_SHA_256', Message: data, Mac: mac }));
      return out.MacValid === true;
    } catch (error) {
      if ((error as { name?: string }).name === 'KMSInvalidMacException') return false;
      const mapped = mapKmsError(error, 'kms:VerifyMac', this.macKeyId, { app: '-', environment: '-', keyId: 'manifest' });
      throw new ManifestError(`Could not verify the key manifest's MAC: ${mapped.message}`, { cause: error, hint: mapped.hint });
    }
  }

  close(): void {
    this.client.destroy();
  }
}
