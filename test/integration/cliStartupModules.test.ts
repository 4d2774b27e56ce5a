import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliWorkspace, type CliWorkspace } from './cliRunner';

/**
 * The CLI loads the AWS SDK only for the commands that talk to AWS: `--help`, and every command on
 * a cache without a DynamoDB tier, start without it (it is most of the start-up time, and an
 * optional peer dependency a file-only install may not have). A `--require`d probe writes the
 * modules each run loaded; runs against the built CLI (`npm test` builds first).
 */
describe('CLI start-up without the AWS SDK', () => {
  let ws: CliWorkspace;
  let probeDir: string;
  let probe: string;

  beforeAll(() => {
    ws = cliWorkspace({ backend: 'file' });
    probeDir = mkdtempSync(join(tmpdir(), 'cv-modules-'));
    probe = join(probeDir, 'probe.cjs');
    writeFileSync(probe, "process.on('exit', () => require('node:fs').writeFileSync(process.env.CV_MODULES_OUT, JSON.stringify(Object.keys(require.cache))));\n");
  });
  afterAll(() => {
    ws.remove();
    rmSync(probeDir, { recursive: true, force: true });
  });

  let runs = 0;
  /** Runs the CLI and returns its exit code and the @aws-sdk packages it loaded. */
  async function sdkPackagesLoadedBy(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; sdk: string[]; stdout: string }> {
    const out = join(probeDir, `modules-${++runs}.json`);
    const result = await ws.run(args, { env: { NODE_OPTIONS: `--require ${probe}`, CV_MODULES_OUT: out, ...env } });
    const modules = JSON.parse(readFileSync(out, 'utf8')) as string[];
    expect(modules.some((m) => m.endsWith(join('dist', 'client', 'cli', 'bin.js')))).toBe(true);
    const sdk = [...new Set(modules.map((m) => /node_modules\/(@aws-sdk\/[^/]+)\//.exec(m)?.[1]).filter((p): p is string => p !== undefined))];
    return { code: result.code, sdk: sdk.sort(), stdout: result.stdout };
  }

  it('cachevault --help loads no @aws-sdk module', async () => {
    expect(await sdkPackagesLoadedBy(['--help'])).toMatchObject({ code: 0, sdk: [] });
  });

  it('get, set and get again on a file cache load no @aws-sdk module', async () => {
    expect(await sdkPackagesLoadedBy(['get', 'greeting'])).toMatchObject({ code: 1, sdk: [] });
    expect(await sdkPackagesLoadedBy(['set', 'greeting', 'hello'])).toMatchObject({ code: 0, sdk: [] });
    const got = await sdkPackagesLoadedBy(['get', 'greeting']);
    expect({ code: got.code, sdk: got.sdk, value: got.stdout.trim() }).toEqual({ code: 0, sdk: [], value: 'hello' });
  });

  it('status and prune on a file cache load no @aws-sdk module', async () => {
    expect(await sdkPackagesLoadedBy(['status'])).toMatchObject({ sdk: [] });
    expect(await sdkPackagesLoadedBy(['prune'])).toMatchObject({ code: 0, sdk: [] });
  });

  it('table describe loads the DynamoDB client when it needs it', async () => {
    // Nothing listens on port 9: the command fails, after it loaded the SDK to try.
    const run = await sdkPackagesLoadedBy(['table', 'describe'], { CACHEVAULT_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9', CACHEVAULT_DYNAMODB_MAX_ATTEMPTS: '1' });
    expect(run.code).toBe(1);
    expect(run.sdk).toContain('@aws-sdk/client-dynamodb');
  });
});
