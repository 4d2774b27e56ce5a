import type { ChildProcess } from 'node:child_process';

/**
 * Stopping the local servers the tests and `npm start` run (DynamoDB Local, moto_server): by
 * their ChildProcess when this process started them, else by PID (jest's globalTeardown).
 */

/** SIGTERM, then SIGKILL if the child has not exited within 10 s. */
export async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM to a process started elsewhere, then SIGKILL once `timeoutMs` has passed. */
export async function stopByPid(pid: number, timeoutMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
