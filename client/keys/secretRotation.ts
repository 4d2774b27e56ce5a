import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuditEvent, type AuditSink } from '../audit/auditLog';
import { silentLogger } from '../logger';
import type { Clock, Logger } from '../types';
import { RotationStepError } from './errors';
import { keyCheckValue } from './keyCheck';
import { KeyState, MANIFEST_FORMAT_VERSION, activeVersion, findVersion, nextVersionId, withNewActive, type KeyManifest } from './keyManifest';
import { sealManifest, verifyManifestSeal, type ManifestSealer } from './manifestSeal';
import type { KeyProvider } from './keyProvider';
import { KeyProviderChain } from './keyProviderChain';
import { isRemoteProvider } from './providerRegistry';
import { SecretStage, type SecretsManagerManifestStore } from './secretsManagerManifestStore';

/**
 * The four steps of a Secrets Manager rotation of the key manifest, as client code; the rotation
 * Lambda only parses its event and calls `runRotationStep`. Each step is idempotent: Secrets
 * Manager retries a failed step, and may call a step again after it succeeded.
 *
 * 1. createSecret: a new data key version (KMS-wrapped), put as AWSPENDING under the token.
 * 2. setSecret: nothing outside the secret holds the key; validate the pending manifest.
 * 3. testSecret: unwrap the pending active key and round-trip a test value with it.
 * 4. finishSecret: move AWSCURRENT to the token's version; the old active key is decrypt-only.
 */

export const RotationStep = {
  createSecret: 'createSecret',
  setSecret: 'setSecret',
  testSecret: 'testSecret',
  finishSecret: 'finishSecret',
} as const;
export type RotationStep = (typeof RotationStep)[keyof typeof RotationStep];

/** The event Secrets Manager sends a rotation function. */
export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: RotationStep;
}

export interface RotationDeps {
  readonly store: SecretsManagerManifestStore;
  /** Usually `[kms]` only: a shared key version must be wrapped by KMS. */
  readonly providers: readonly KeyProvider[];
  readonly app: string;
  readonly environment: string;
  readonly audit?: AuditSink;
  readonly logger?: Logger;
  /** @default Date.now */
  readonly clock?: Clock;
  /**
   * The KMS HMAC sealer (`keys.kms.macKeyId`): the rotation function is the role allowed to
   * GenerateMac, so it verifies the current manifest and seals the pending one.
   */
  readonly sealer?: ManifestSealer;
}

export interface RotationStepResult {
  readonly step: RotationStep;
  /** The new (pending or promoted) key version, when known. */
  readonly keyId?: string;
  /** False when the step had already been done (a retried or repeated invocation). */
  readonly changed: boolean;
}

/** Creates the new key version as the AWSPENDING secret version `token`. */
export async function createSecret(deps: RotationDeps, token: string): Promise<RotationStepResult> {
  const step = RotationStep.createSecret;
  const existing = await deps.store.loadVersion({ versionId: token, stage: SecretStage.pending });
  if (existing) return { step, keyId: activeVersion(existing)?.id, changed: false };

  const current = await deps.store.load();
  if (current) checkDeployment(step, current, deps);
  // Never build on a manifest this deployment did not write (a sealed one must verify).
  if (current && deps.sealer && current.mac !== undefined) await verifyManifestSeal(current, deps.sealer, deps.store.description);
  const base: KeyManifest = current ?? {
    format: 'cachevault-key-manifest',
    formatVersion: MANIFEST_FORMAT_VERSION,
    app: deps.app,
    environment: deps.environment,
    revision: 0,
    versions: [],
  };
  const id = nextVersionId(base);
  const chain = new KeyProviderChain(deps.providers, { logger: deps.logger, audit: deps.audit, clock: deps.clock });
  const generated = await chain.generate({ app: deps.app, environment: deps.environment, keyId: id }, false);
  const check = keyCheckValue(generated.plaintext);
  generated.plaintext.fill(0);
  if (generated.localOnly) {
    throw new RotationStepError(step, `Key version ${id} could only be wrapped by a local provider; a shared manifest needs KMS.`, {
      hint: 'Give the rotation function kms:GenerateDataKey on the key and configure keys.providers = ["kms"].',
    });
  }
  let next = withNewActive(base, {
    id,
    createdAt: new Date((deps.clock ?? Date.now)()).toISOString(),
    state: KeyState.active,
    localOnly: false,
    wrapped: generated.wrapped,
    check,
  });
  if (deps.sealer) next = await sealManifest(next, deps.sealer);
  await deps.store.putPending(next, token);
  (deps.logger ?? silentLogger).info({ keyId: id, token }, `created pending key version ${id}`);
  deps.audit?.append(AuditEvent.keyGenerated, { keyId: id, reason: 'secrets-manager-rotation', localOnly: false, providers: generated.wrapped.map((w) => w.provider) });
  return { step, keyId: id, changed: true };
}

/** Nothing outside the secret holds the key; checks the pending manifest is a sound successor. */
export async function setSecret(deps: RotationDeps, token: string): Promise<RotationStepResult> {
  const step = RotationStep.setSecret;
  const pending = await loadPending(step, deps, token);
  const current = await deps.store.load();
  checkDeployment(step, pending, deps);
  if (deps.sealer) await verifyManifestSeal(pending, deps.sealer, `${deps.store.description} (AWSPENDING ${token})`);
  const active = activeVersion(pending);
  if (!active) throw new RotationStepError(step, 'The pending key manifest has no active version.', { hint: 'Cancel this rotation and start a new one.' });
  if (active.localOnly || !active.wrapped.some((w) => isRemoteProvider(w.provider))) {
    throw new RotationStepError(step, `Pending key version ${active.id} is not wrapped by KMS.`, { hint: 'Cancel this rotation; rotate with KMS available.' });
  }
  if (current) {
    if (pending.revision <= current.revision) {
      throw new RotationStepError(step, `The pending manifest's revision ${pending.revision} is not above the current ${current.revision}.`, { hint: 'Cancel this rotation and start a new one from the current manifest.' });
    }
    if (findVersion(current, active.id)) {
      throw new RotationStepError(step, `Pending key version ${active.id} already exists in the current manifest.`, { hint: 'Cancel this rotation (another rotation finished meanwhile) and start a new one.' });
    }
    for (const old of current.versions) {
      const kept = findVersion(pending, old.id);
      if (!kept || (old.state !== KeyState.retired && kept.wrapped.length === 0)) {
        throw new RotationStepError(step, `The pending manifest drops key version ${old.id} of the current one.`, { hint: 'Cancel this rotation and start a new one from the current manifest.' });
      }
    }
  }
  return { step, keyId: active.id, changed: false };
}

/** Unwraps the pending active key and round-trips a test value with it. */
export async function testSecret(deps: RotationDeps, token: string): Promise<RotationStepResult> {
  const step = RotationStep.testSecret;
  const pending = await loadPending(step, deps, token);
  const active = activeVersion(pending);
  if (!active) throw new RotationStepError(step, 'The pending key manifest has no active version.');
  const chain = new KeyProviderChain(deps.providers, { logger: deps.logger, clock: deps.clock });
  const key = await chain.unwrap(active.wrapped, { app: deps.app, environment: deps.environment, keyId: active.id });
  try {
    if (key.length !== 32) throw new RotationStepError(step, `Pending key version ${active.id} is ${key.length} bytes, not 32.`);
    const sample = randomBytes(64);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const sealed = Buffer.concat([cipher.update(sample), cipher.final()]);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAuthTag(cipher.getAuthTag());
    const opened = Buffer.concat([decipher.update(sealed), decipher.final()]);
    if (!timingSafeEqual(opened, sample)) throw new RotationStepError(step, `Pending key version ${active.id} did not round-trip a test value.`);
  } finally {
    key.fill(0);
  }
  return { step, keyId: active.id, changed: false };
}

/** Moves AWSCURRENT to the token's version; Secrets Manager labels the old one AWSPREVIOUS. */
export async function finishSecret(deps: RotationDeps, token: string): Promise<RotationStepResult> {
  const step = RotationStep.finishSecret;
  const info = await deps.store.describe();
  const currentVersion = Object.entries(info.versions).find(([, stages]) => stages.includes(SecretStage.current))?.[0];
  const pending = await deps.store.loadVersion({ versionId: token });
  const keyId = pending ? activeVersion(pending)?.id : undefined;
  if (currentVersion === token) return { step, keyId, changed: false };
  await deps.store.promote(token, currentVersion);
  const previous = currentVersion ? await deps.store.loadVersion({ versionId: currentVersion }) : undefined;
  deps.audit?.append(AuditEvent.keyRotated, { from: (previous && activeVersion(previous)?.id) ?? 'none', to: keyId ?? 'unknown', reason: 'secrets-manager-rotation' });
  (deps.logger ?? silentLogger).info({ keyId, token }, 'promoted the pending key manifest to AWSCURRENT');
  return { step, keyId, changed: true };
}

/**
 * Checks the event against the secret (as AWS's rotation templates do) and runs its step. A
 * token already AWSCURRENT means the rotation is complete: nothing runs.
 */
export async function runRotationStep(deps: RotationDeps, event: RotationEvent): Promise<RotationStepResult> {
  const { ClientRequestToken: token, Step: step } = event;
  if (!Object.values(RotationStep).includes(step)) {
    throw new RotationStepError(String(step), `Unknown rotation step "${String(step)}".`, { hint: 'Secrets Manager sends createSecret, setSecret, testSecret or finishSecret.' });
  }
  const info = await deps.store.describe();
  if (!info.rotationEnabled) {
    throw new RotationStepError(step, `Rotation is not enabled on ${deps.store.secretId}.`, { hint: 'Enable rotation on the secret (the stack does) before invoking the rotation function.' });
  }
  const stages = info.versions[token];
  if (!stages) {
    throw new RotationStepError(step, `Secret version ${token} is not a version of ${deps.store.secretId}.`, { hint: 'Invoke the rotation through Secrets Manager (rotate-secret), not by hand.' });
  }
  if (stages.includes(SecretStage.current)) return { step, changed: false };
  if (!stages.includes(SecretStage.pending)) {
    throw new RotationStepError(step, `Secret version ${token} is not staged AWSPENDING.`, { hint: 'Cancel the rotation (cancel-rotate-secret) and start a new one.' });
  }
  switch (step) {
    case RotationStep.createSecret:
      return createSecret(deps, token);
    case RotationStep.setSecret:
      return setSecret(deps, token);
    case RotationStep.testSecret:
      return testSecret(deps, token);
    case RotationStep.finishSecret:
      return finishSecret(deps, token);
  }
}

async function loadPending(step: RotationStep, deps: RotationDeps, token: string): Promise<KeyManifest> {
  const pending = await deps.store.loadVersion({ versionId: token, stage: SecretStage.pending });
  if (!pending) {
    throw new RotationStepError(step, `There is no AWSPENDING key manifest for token ${token}.`, { hint: 'createSecret did not run or failed; retry the rotation.' });
  }
  return pending;
}

function checkDeployment(step: RotationStep, manifest: KeyManifest, deps: RotationDeps): void {
  if (manifest.app !== deps.app || manifest.environment !== deps.environment) {
    throw new RotationStepError(step, `The secret holds the key manifest of "${manifest.app}"/"${manifest.environment}", not "${deps.app}"/"${deps.environment}".`, {
      hint: 'Check the rotation function\'s CACHEVAULT_KEYS_APP / CACHEVAULT_KEYS_ENVIRONMENT settings.',
    });
  }
}
