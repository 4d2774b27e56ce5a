/**
 * Checks the capacity model (client/plan/capacityModel.ts) against a real run: several worker
 * processes, each a hybrid cache with its own memory and file tiers over one DynamoDB table,
 * drive the same Zipf workload the model is given, and the shares of gets each tier answered and
 * the table reads and writes per get are compared with the prediction, in percentage points.
 * Used by `npm run bench -- capacity` (full) and by a test (short).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';
import { TableManager } from '../../client/dynamodb/tableManager';
import { DEFAULT_WORKLOAD, planCapacity, type Workload } from '../../client/plan/capacityModel';
import { keyName, NAMESPACE, type CapacityWorkerCounts, type CapacityWorkerInput } from './capacityWorker';

export interface ValidationOptions {
  readonly endpoint: string;
  readonly instances: number;
  readonly keys: number;
  readonly zipf: number;
  readonly getsPerSecond: number;
  readonly writesPerSecond: number;
  readonly valueBytes: number;
  readonly memoryEntries: number;
  readonly fileEntries: number;
  readonly localTtlMs: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly progress?: (message: string) => void;
}

/** One compared figure, as a share of all gets. */
export interface ComparedFigure {
  readonly name: string;
  readonly predicted: number;
  readonly measured: number;
  /** |predicted - measured| in percentage points. */
  readonly differencePp: number;
}

export interface ValidationResult {
  readonly options: Omit<ValidationOptions, 'endpoint' | 'progress'>;
  readonly figures: ComparedFigure[];
  readonly maxDifferencePp: number;
  readonly gets: number;
  readonly errors: number;
}

const ROOT = join(__dirname, '..', '..');
const WORKER = join(__dirname, 'capacityWorker.ts');
/** Entries outlive the run, so the table holds every key and only the local tiers turn over. */
const ENTRY_TTL_MS = 3_600_000;

function runWorker(input: CapacityWorkerInput): Promise<CapacityWorkerCounts> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(input)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`capacity worker exited ${code}: ${err.slice(-2_000)}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as CapacityWorkerCounts);
    });
  });
}

export async function validateCapacityModel(options: ValidationOptions): Promise<ValidationResult> {
  const { endpoint, progress = () => {}, ...shape } = options;
  const tableName = `cv-capacity-${randomBytes(4).toString('hex')}`;
  const client = createDynamoDBClient({ region: 'us-east-1', endpoint });
  const dirs: string[] = [];
  try {
    await new TableManager({ client, tableName, waitTimeoutMs: 60_000 }).create();
    // Fill the table first: the model describes the steady state, not a cold table.
    progress(`capacity: writing ${options.keys} keys to the table`);
    const table = new DynamoDBBackend({ tableName, client });
    const value = randomBytes(options.valueBytes);
    const now = Date.now();
    for (let start = 1; start <= options.keys; start += 500) {
      const ranks = Array.from({ length: Math.min(500, options.keys - start + 1) }, (_, i) => start + i);
      await table.setMany(ranks.map((r) => ({ namespace: NAMESPACE, key: keyName(r), value, expiresAt: now + ENTRY_TTL_MS, keyId: 'k1', createdAt: now })));
    }
    await table.close();
    progress(`capacity: ${options.instances} processes for ${(options.warmupMs + options.measureMs) / 1000} s`);
    const counts = await Promise.all(
      Array.from({ length: options.instances }, (_, i) => {
        const dir = mkdtempSync(join(tmpdir(), 'cv-capacity-'));
        dirs.push(dir);
        return runWorker({ ...shape, endpoint, tableName, dir, seed: 1_000 + i, entryTtlMs: ENTRY_TTL_MS });
      }),
    );
    const sum = (k: keyof CapacityWorkerCounts) => counts.reduce((acc, c) => acc + c[k], 0);
    const gets = sum('gets');
    // The model's rates are per second; the workers' achieved rates are what the model is given.
    const seconds = counts[0]!.seconds;
    const workload: Workload = {
      ...DEFAULT_WORKLOAD,
      instances: options.instances,
      getsPerSecond: gets / options.instances / seconds,
      writesPerSecond: sum('sets') / options.instances / seconds,
      keys: options.keys,
      zipf: options.zipf,
      valueSizes: [{ bytes: options.valueBytes, weight: 1 }],
      memoryEntries: options.memoryEntries,
      memoryBytes: Number.MAX_SAFE_INTEGER,
      fileEntries: options.fileEntries,
      fileBytes: Number.MAX_SAFE_INTEGER,
      localTtlMs: options.localTtlMs,
      entryTtlMs: ENTRY_TTL_MS,
    };
    const predicted = planCapacity(workload).scenarios[0];
    const getsPerSecondTotal = options.instances * workload.getsPerSecond;
    const figure = (name: string, p: number, m: number): ComparedFigure => ({ name, predicted: p, measured: m, differencePp: Math.abs(p - m) * 100 });
    const figures = [
      figure('memory hits / gets', predicted.ratios.memory, sum('memory') / gets),
      figure('file hits / gets', predicted.ratios.file, sum('file') / gets),
      figure('table hits / gets', predicted.ratios.dynamodb, sum('dynamodb') / gets),
      figure('loader runs / gets', predicted.ratios.miss, sum('loader') / gets),
      figure('table reads / gets', predicted.units.readsPerSecond / getsPerSecondTotal, sum('tableReads') / gets),
      figure('table writes / gets', predicted.units.writesPerSecond / getsPerSecondTotal, sum('tableWrites') / gets),
    ];
    return { options: shape, figures, maxDifferencePp: Math.max(...figures.map((f) => f.differencePp)), gets, errors: sum('errors') };
  } finally {
    await new TableManager({ client, tableName, waitTimeoutMs: 60_000 }).delete().catch(() => {});
    client.destroy();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
