import { CheckpointStore } from '../migrate/checkpoint';
import type { KeyManager } from './keyManager';
import { KeyState } from './keyManifest';

/** The description a rotation's re-encryption sweep is recorded under (its plan names the target). */
export function rotationSweepDescription(target: string): string {
  return `rotate to ${target}`;
}

const RECORDED_TARGET = /^rotate to (k[1-9][0-9]{0,8})$/;

export interface RotationStart {
  /** The version active before the rotation (undefined on a first one). */
  readonly previous: string | undefined;
  /** The version entries are re-encrypted to. */
  readonly current: string;
  /** An interrupted rotation's recorded version, resumed instead of making another. */
  readonly resumed: boolean;
}

/**
 * Starts `encryption rotate`: resumes an interrupted rotation instead of making another version.
 * When the rotation sweep's checkpoint in `stateDir` is still `running` and records a target
 * version that is still the active one, no new version is made and the caller resumes that sweep
 * (re-running an interrupted rotate used to add a version per attempt, each with its own sweep).
 * Otherwise a new active version is made (`keys.rotate()`).
 */
export async function rotateOrResume(keys: KeyManager, stateDir: string): Promise<RotationStart> {
  const checkpoint = await new CheckpointStore(stateDir).load().catch(() => undefined);
  const recorded = checkpoint?.status === 'running' ? RECORDED_TARGET.exec(String(checkpoint.plan.options.description ?? ''))?.[1] : undefined;
  const status = keys.status();
  if (recorded !== undefined && status.activeKeyId === recorded) {
    const number = (id: string) => Number(id.slice(1));
    const previous = status.versions
      .filter((v) => !v.ephemeral && v.state === KeyState.decryptOnly && number(v.id) < number(recorded))
      .sort((a, b) => number(b.id) - number(a.id))[0]?.id;
    return { previous, current: recorded, resumed: true };
  }
  const { previous, current } = await keys.rotate();
  return { previous, current, resumed: false };
}
