/**
 * `rotate-keys`: the Secrets Manager rotation function of the key-manifest secret. Each of the
 * four steps is the client's (client/keys/secretRotation.ts); this handler builds its
 * dependencies from the environment, counts steps and failures, and after `finishSecret` starts
 * the re-encryption of entries under older key versions (the `migrate` function, asynchronously).
 */
import type { Context, SecretsManagerRotationEvent } from 'aws-lambda';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { loadConfig } from '../client/config/loadConfig';
import { createKeyProviders } from '../client/keys/createKeyProviders';
import { manifestSealer } from '../client/keys/createManifestSealer';
import { RotationStep, runRotationStep, type RotationStepResult } from '../client/keys/secretRotation';
import { SecretsManagerManifestStore } from '../client/keys/secretsManagerManifestStore';
import { InvalidEventError } from './errors';
import { startMigrateJob } from './jobInvoker';
import { MetricDimensions, MetricNames } from './metricNames';
import { createObservability, withObservability, type Observability } from './middleware/observability';

export interface RotateResult extends RotationStepResult {
  /** Set after a finishSecret that promoted a new version: the re-encryption job was started. */
  readonly reencryptionStarted?: boolean;
}

const STEPS: readonly string[] = Object.values(RotationStep);

function parseEvent(event: unknown): SecretsManagerRotationEvent {
  const e = event as Partial<SecretsManagerRotationEvent> | null;
  if (typeof e?.SecretId !== 'string' || typeof e.ClientRequestToken !== 'string' || typeof e.Step !== 'string' || !STEPS.includes(e.Step)) {
    throw new InvalidEventError('The rotate-keys function got an event that is not a Secrets Manager rotation step.', {
      hint: 'Rotate through Secrets Manager (aws secretsmanager rotate-secret --secret-id ...), which sends { SecretId, ClientRequestToken, Step }.',
    });
  }
  return e as SecretsManagerRotationEvent;
}

export async function runRotation(event: unknown, obs: Observability, env: NodeJS.ProcessEnv = process.env): Promise<RotateResult> {
  const rotation = parseEvent(event);
  const step = rotation.Step as RotationStep;
  obs.logger.appendKeys({ step, secretId: rotation.SecretId });
  const { config } = loadConfig({ env });
  const store = new SecretsManagerManifestStore({
    secretId: rotation.SecretId,
    region: config.keys.manifest.region ?? config.dynamodb.region,
  });
  try {
    let result: RotationStepResult;
    try {
      result = await runRotationStep(
        {
          store,
          providers: createKeyProviders(config.keys, { logger: obs.clientLogger }),
          app: config.keys.app,
          environment: config.keys.environment,
          logger: obs.clientLogger,
          sealer: manifestSealer(config, []),
        },
        { SecretId: rotation.SecretId, ClientRequestToken: rotation.ClientRequestToken, Step: step },
      );
    } catch (error) {
      obs.metrics.addMetric(MetricNames.keyRotationFailures, MetricUnit.Count, 1);
      obs.logger.error('rotation step failed', { error: error as Error });
      throw error;
    }
    const stepMetric = obs.metrics.singleMetric();
    stepMetric.addDimension(MetricDimensions.step, step);
    stepMetric.addMetric(MetricNames.keyRotationSteps, MetricUnit.Count, 1);
    obs.logger.info('rotation step done', { keyId: result.keyId, changed: result.changed });

    // Also when this finishSecret changed nothing: Secrets Manager repeats a step only after it saw
    // it fail, and a finishSecret can fail after AWSCURRENT moved (its response lost), before the
    // sweep was started; skipping it then would leave the old version undrained for good. The
    // sweep is resumable and idempotent, so a second start only costs a scan.
    if (step === RotationStep.finishSecret) {
      const functionName = env.CACHEVAULT_MIGRATE_FUNCTION_NAME;
      if (!functionName) {
        obs.logger.warn('CACHEVAULT_MIGRATE_FUNCTION_NAME is not set: re-encryption not started; start it by hand (docs/operations.md#running-a-migration)');
        return { ...result, reencryptionStarted: false };
      }
      // The rotation is done once AWSCURRENT moved; a failed start must not fail it (Secrets
      // Manager would retry finishSecret, which has nothing left to do). The error is logged
      // and counted, and the sweep can be started by hand.
      try {
        await startMigrateJob(functionName, { kind: 'reencrypt', reason: `rotation to ${result.keyId ?? 'new key'}${result.changed ? '' : ' (finishSecret repeated)'}` });
        return { ...result, reencryptionStarted: true };
      } catch (error) {
        obs.metrics.addMetric(MetricNames.keyRotationFailures, MetricUnit.Count, 1);
        obs.logger.error('could not start re-encryption after the rotation', { error: error as Error });
        return { ...result, reencryptionStarted: false };
      }
    }
    return result;
  } finally {
    store.close();
  }
}

/** The function's logger and metrics (exported for tests). */
export const observability = createObservability('cachevault-rotate-keys');

export const handler = withObservability<unknown, RotateResult>((event: unknown, _context: Context) => runRotation(event, observability), observability);
