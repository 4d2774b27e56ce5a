import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { MigrationLockedError } from './errors';

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly since: number;
}

/**
 * One writer per state directory: a `lock` file created exclusively (`wx`) holding the owner's
 * pid and host. Two processes running the same migration (or a rollback during a run) would
 * interleave checkpoints and journal lines, so the second is refused. A lock left by a process
 * that died (SIGKILL, reboot) on this host is detected by its pid and taken over; one from another
 * host cannot be checked and is reported with its path so an operator can remove it.
 */
export class StateLock {
  private released = false;

  private constructor(readonly path: string) {}

  static async acquire(stateDir: string): Promise<StateLock> {
    const path = join(stateDir, 'lock');
    const me: LockOwner = { pid: process.pid, host: hostname(), since: Date.now() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.writeFile(path, JSON.stringify(me), { flag: 'wx', mode: 0o600 });
        return new StateLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = await readOwner(path);
      if (owner !== undefined && (owner.host !== me.host || isAlive(owner.pid))) {
        throw new MigrationLockedError(stateDir, path, owner.pid, owner.host);
      }
      // Stale (its process is gone) or torn (killed while writing it): take it over.
      await fs.rm(path, { force: true });
    }
    throw new MigrationLockedError(stateDir, path, undefined, undefined);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await fs.rm(this.path, { force: true });
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(path, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host, since: parsed.since ?? 0 };
  } catch {
    // Unreadable or vanished: treated as stale by the caller.
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
