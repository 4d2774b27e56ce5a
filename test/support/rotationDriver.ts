/**
 * Plays Secrets Manager's part in a rotation against moto: RotateSecret stages a new version id
 * (the ClientRequestToken) AWSPENDING with no value and turns rotation on, then the service
 * invokes the rotation function with createSecret, setSecret, testSecret and finishSecret.
 *
 * moto cannot run the function itself (its Lambda needs Docker). Its RotateSecret stages the
 * token and enables rotation before it looks the function up, then answers
 * ResourceNotFoundException for the function; `stage` relies on that, and checks the staging
 * it needs with DescribeSecret, so a moto that behaves otherwise fails here, loudly.
 *
 * After a completed rotation AWS may leave AWSPENDING on the version that is now AWSCURRENT, or
 * on none (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html).
 * moto 5.2's RotateSecret refuses the first of those states ("Previous rotation request is still
 * in progress", the opposite of AWS's rule), so `stage` moves the secret to the second first.
 */
import { randomUUID } from 'node:crypto';
import {
  CancelRotateSecretCommand,
  DescribeSecretCommand,
  RotateSecretCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStepName = (typeof ROTATION_STEPS)[number];

/** The event Secrets Manager sends a rotation function (with the newer RotationToken field). */
export interface SecretsManagerRotationEvent {
  readonly Step: RotationStepName;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly RotationToken: string;
}

export class RotationDriver {
  constructor(
    private readonly sm: SecretsManagerClient,
    readonly secretId: string,
    /** The rotation function's ARN, as the stack's RotationSchedule names it. */
    private readonly lambdaArn: string,
  ) {}

  /** Starts a rotation: stages `token` AWSPENDING (no value yet) and enables rotation. */
  async stage(token: string = randomUUID()): Promise<string> {
    const before = await this.stages();
    const finished = Object.entries(before).find(([, s]) => s.includes('AWSCURRENT') && s.includes('AWSPENDING'))?.[0];
    if (finished) {
      await this.sm.send(new UpdateSecretVersionStageCommand({ SecretId: this.secretId, VersionStage: 'AWSPENDING', RemoveFromVersionId: finished }));
    }
    const error = await this.sm
      .send(
        new RotateSecretCommand({
          SecretId: this.secretId,
          ClientRequestToken: token,
          RotationLambdaARN: this.lambdaArn,
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: true,
        }),
      )
      .then(
        () => undefined,
        (e: unknown) => e as { name?: string },
      );
    if (error?.name !== 'ResourceNotFoundException') {
      throw new Error(`RotationDriver: expected moto to stage the version and then miss the function, got ${error?.name ?? 'success'}`);
    }
    const stages = await this.stages();
    if (JSON.stringify(stages[token]) !== JSON.stringify(['AWSPENDING'])) {
      throw new Error(`RotationDriver: token ${token} is not staged AWSPENDING alone: ${JSON.stringify(stages)}`);
    }
    return token;
  }

  /**
   * Cancels the rotation of `token` as an operator would: CancelRotateSecret, then the
   * AWSPENDING label removed from its version (AWS leaves it; a new rotation needs it gone).
   */
  async cancel(token: string): Promise<void> {
    await this.sm.send(new CancelRotateSecretCommand({ SecretId: this.secretId }));
    await this.sm.send(new UpdateSecretVersionStageCommand({ SecretId: this.secretId, VersionStage: 'AWSPENDING', RemoveFromVersionId: token }));
  }

  event(step: RotationStepName, token: string): SecretsManagerRotationEvent {
    return { Step: step, SecretId: this.secretId, ClientRequestToken: token, RotationToken: randomUUID() };
  }

  /** Version id to staging labels, as DescribeSecret reports them. */
  async stages(): Promise<Record<string, string[]>> {
    const out = await this.sm.send(new DescribeSecretCommand({ SecretId: this.secretId }));
    return out.VersionIdsToStages ?? {};
  }

  async versionWith(stage: string): Promise<string | undefined> {
    return Object.entries(await this.stages()).find(([, s]) => s.includes(stage))?.[0];
  }
}
