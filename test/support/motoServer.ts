/**
 * moto server (`moto_server`, Python, part of this machine image; nothing can be pip-installed
 * here) as a local AWS endpoint for KMS, Secrets Manager, CloudFormation, S3, IAM, STS and
 * Lambda. The aws jest project's globalSetup starts one per run on a free loopback port and its
 * globalTeardown stops it by PID; `npm run deploy:emulator` starts its own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { stopByPid, stopChild } from '../../client/local/childProcess';

export interface MotoServer {
  /** `http://localhost:PORT`: CloudFormation resolves a TemplateURL only when the host is spelled `localhost`. */
  readonly endpoint: string;
  /** `http://127.0.0.1:PORT`, the same server. */
  readonly loopbackEndpoint: string;
  readonly port: number;
  /** PID of the Python process itself (pyenv's shim execs, so this is the server). */
  readonly pid: number;
  stop(): Promise<void>;
}

export interface MotoServerOptions {
  /** @default a free port on 127.0.0.1 */
  readonly port?: number;
  /** @default 30000 */
  readonly startTimeoutMs?: number;
  /** Extra environment for the server (e.g. `INITIAL_NO_AUTH_ACTION_COUNT`). */
  readonly env?: Record<string, string>;
}

/** Credentials moto accepts (any well-formed pair; account 123456789012). */
export const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;
export const MOTO_ACCOUNT = '123456789012';
export const MOTO_REGION = 'us-east-1';

/** Explains what to do when moto_server is absent: it cannot be installed from this network. */
export class MotoServerMissingError extends Error {
  constructor(detail: string) {
    super(
      `moto_server is not usable (${detail}). The AWS tests (jest project "aws") need moto 5.x with its server extras on PATH: ` +
        '`pip install "moto[server]==5.2.1"` where the Python registry is reachable (it is part of the CI and developer machine image).',
    );
    this.name = 'MotoServerMissingError';
  }
}

/** Whether `moto_server` is on PATH; the reason when not. */
export function motoServerAvailable(): { ok: true } | { ok: false; reason: string } {
  const probe = spawnSync('moto_server', ['--help'], { stdio: 'ignore', timeout: 20_000 });
  if (probe.error) return { ok: false, reason: (probe.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found on PATH' : probe.error.message };
  if (probe.status !== 0) return { ok: false, reason: `moto_server --help exited with ${String(probe.status)}` };
  return { ok: true };
}

/** Starts moto_server on loopback and resolves once it answers its management API. */
export async function startMotoServer(options: MotoServerOptions = {}): Promise<MotoServer> {
  const port = options.port ?? (await findFreePort());
  const child = spawn('moto_server', ['-p', String(port), '-H', '127.0.0.1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4_096);
  });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('exit', (code) => resolve({ code }));
    child.once('error', (error) => resolve({ code: null, error }));
  });
  const loopbackEndpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  let stopped = false;
  const outcome = await Promise.race([
    exited.then((e) => ({ exited: e })),
    (async () => {
      while (!stopped && Date.now() < deadline) {
        if (await answers(loopbackEndpoint)) return { ready: true as const };
        await delay(100);
      }
      return { ready: false as const };
    })(),
  ]);
  stopped = true;
  if ('exited' in outcome) {
    const missing = (outcome.exited.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
    throw new MotoServerMissingError(
      missing ? 'not found on PATH' : `it exited with code ${String(outcome.exited.code)} before answering: ${stderrTail.trim().slice(-500)}`,
    );
  }
  if (!outcome.ready || child.pid === undefined) {
    await stopChild(child, exited);
    throw new MotoServerMissingError(`it did not answer on ${loopbackEndpoint} in time: ${stderrTail.trim().slice(-500)}`);
  }
  const pid = child.pid;
  // Its output is only for diagnosis above; stop reading so the pipe cannot fill up.
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();
  return {
    endpoint: `http://localhost:${port}`,
    loopbackEndpoint,
    port,
    pid,
    stop: () => stopChild(child, exited),
  };
}

/** Stops a moto_server started by another module (jest's globalTeardown only has the PID). */
export async function stopMotoServerByPid(pid: number, timeoutMs = 10_000): Promise<void> {
  await stopByPid(pid, timeoutMs);
}

/** True when moto's management API answers at `endpoint`. */
export async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
