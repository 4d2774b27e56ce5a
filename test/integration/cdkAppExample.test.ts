import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';

/**
 * examples/cdk-app as a user has it: a CDK app in a directory of its own with the packed
 * cachevault installed, importing `cachevault/cdk`. The tarball is extracted into the app's
 * node_modules (what `npm install` does with it); its dependencies and the app's own
 * (aws-cdk-lib, constructs, cdk-nag, the CDK CLI, tsx, esbuild) are linked from this checkout's
 * node_modules, so the test runs offline. Needs dist/ (`npm test` builds first).
 */
const root = resolve(__dirname, '../..');
const repoModules = join(root, 'node_modules');
const example = join(root, 'examples/cdk-app');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
/** What the example's package.json asks for beside cachevault, and the tools its scripts run. */
const APP_PACKAGES = ['aws-cdk-lib', 'constructs', 'cdk-nag', 'aws-cdk', 'tsx', 'esbuild', 'typescript', '@types/node'];
const BINS: Record<string, string> = { cdk: 'aws-cdk/bin/cdk', tsx: 'tsx/dist/cli.mjs', esbuild: 'esbuild/bin/esbuild', tsc: 'typescript/bin/tsc' };
const STACK = 'OrdersCache';

let dir: string;
let cdkOut: string;
let template: Template;
let resources: Record<string, { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, string> }>;
/** Started in beforeAll beside the main synth (they take the longest; in parallel on CI's cores), awaited by their tests. */
let typecheck: Promise<Outcome>;
let badSynth: Promise<Outcome>;

interface Outcome {
  readonly failed: boolean;
  readonly output: string;
}

const run = (file: string, args: string[], env: NodeJS.ProcessEnv = {}): string =>
  execFileSync(file, args, {
    cwd: dir,
    encoding: 'utf8',
    stdio: 'pipe',
    env: environment(env),
  });

const environment = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: dir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env });
const runInBackground = (file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> =>
  new Promise((done) => {
    execFile(file, args, { cwd: dir, encoding: 'utf8', env: environment(env), maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      done({ failed: err !== null, output: `${stdout}${stderr}` }),
    );
  });

beforeAll(() => {
  if (!existsSync(join(root, 'dist/lib/constructs/index.js')) || !existsSync(join(root, 'dist/functions/health/index.js'))) {
    throw new Error('dist/ has no cachevault/cdk build: run `npm run build` first (`npm test` does).');
  }
  const packDir = mkdtempSync(join(tmpdir(), 'cv-pack-'));
  execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', packDir], { cwd: root, stdio: 'pipe' });
  const tarball = join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz'))!);

  dir = mkdtempSync(join(tmpdir(), 'cv-cdk-app-'));
  for (const entry of ['bin', 'src', 'cdk.json', 'tsconfig.json']) cpSync(join(example, entry), join(dir, entry), { recursive: true });
  const appPackage = JSON.parse(readFileSync(join(example, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  expect(Object.keys(appPackage.dependencies).sort()).toEqual(['aws-cdk-lib', 'cachevault', 'cdk-nag', 'constructs']);
  appPackage.dependencies.cachevault = `file:${tarball}`;
  writeFileSync(join(dir, 'package.json'), JSON.stringify(appPackage, null, 2));
  // npm install would write one; NodejsFunction finds the project root by it.
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'cachevault-cdk-app-example', lockfileVersion: 3, requires: true, packages: {} }));

  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '.bin'), { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', modules]);
  execFileSync('mv', [join(modules, 'package'), join(modules, 'cachevault')]);
  for (const name of [...Object.keys(pkg.dependencies), ...APP_PACKAGES]) {
    mkdirSync(join(modules, name, '..'), { recursive: true });
    symlinkSync(join(repoModules, name), join(modules, name), 'dir');
  }
  for (const [bin, target] of Object.entries(BINS)) symlinkSync(join(modules, target), join(modules, '.bin', bin));

  typecheck = runInBackground(process.execPath, [join(modules, '.bin/tsc'), '-p', '.']);
  // The app with one resource cdk-nag objects to (outside tsconfig's `bin`, at the same depth so
  // its entry paths hold), synthesized without bundling: the checks must fail it.
  const app = readFileSync(join(dir, 'bin/app.ts'), 'utf8');
  expect(app).toContain('app.synth();');
  mkdirSync(join(dir, 'nag-check'));
  writeFileSync(
    join(dir, 'nag-check/app.ts'),
    app.replace(
      'app.synth();',
      "new (require('aws-cdk-lib/aws-dynamodb').Table)(app.node.findChild('OrdersCache'), 'NoBackups', { partitionKey: { name: 'pk', type: 'S' } });\napp.synth();",
    ),
  );
  badSynth = runInBackground(process.execPath, [join(modules, 'tsx/dist/cli.mjs'), 'nag-check/app.ts'], {
    CDK_OUTDIR: join(dir, 'cdk.out.nag-check'),
    CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [] }),
  });

  cdkOut = join(dir, 'cdk.out');
  // The CLI as a user runs it (cdk.json's app: `npx tsx bin/app.ts`); cdk-nag findings fail it.
  run(join(modules, '.bin/cdk'), ['synth', '--quiet', '--ci', '--no-notices', '--output', cdkOut], {
    CDK_DISABLE_VERSION_CHECK: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
  });
  const json = JSON.parse(readFileSync(join(cdkOut, `${STACK}.template.json`), 'utf8'));
  template = Template.fromJSON(json);
  resources = json.Resources;
}, 180_000);

afterAll(async () => {
  // Children still running (a failed beforeAll) must not outlive their directory's removal.
  await Promise.allSettled([typecheck, badSynth]);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

/** The one resource of `type` whose properties satisfy `match`. */
function logicalId(type: string, match: (props: Record<string, unknown>) => boolean = () => true): string {
  const ids = Object.entries(resources).filter(([, r]) => r.Type === type && match(r.Properties ?? {})).map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0];
}
const described = (pattern: RegExp) => (p: Record<string, unknown>) => pattern.test(String(p.Description));

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** A role's inline policy statements as one `effect action resource condition` line per action and resource, sorted. */
function grantsOf(roleId: string): string[] {
  const statements = Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  return statements
    .flatMap((s) => [s.Action].flat().flatMap((a) => [s.Resource].flat().map((res) => `${s.Effect} ${a} ${JSON.stringify(res)} ${JSON.stringify(s.Condition ?? null)}`)))
    .sort();
}
const roleOf = (fnId: string) => (resources[fnId].Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
const appFunction = (name: string) => logicalId('AWS::Lambda::Function', (p) => JSON.stringify(p.Role).includes(`${name}Role`));

describe('examples/cdk-app, with the packed package installed', () => {
  it('resolves cachevault/cdk from the installed tarball, not from this checkout', () => {
    const resolved = run(process.execPath, ['-p', "require.resolve('cachevault/cdk')"]).trim();
    expect(resolved).toBe(join(dir, 'node_modules/cachevault/dist/lib/constructs/index.js'));
    expect(existsSync(join(dir, 'node_modules/cachevault/lambda'))).toBe(false);
  });

  it('synthesizes with cdk-nag AwsSolutions finding nothing unacknowledged, acknowledging only the scheduler wildcard and the manifest rotation, each with its reason', () => {
    // A finding would have failed the synth in beforeAll (the last test shows that it does).
    const metadata = JSON.parse(readFileSync(join(cdkOut, `${STACK}.metadata.json`), 'utf8')) as Record<string, { type: string; data: unknown }[]>;
    const acks = Object.values(metadata)
      .flat()
      .filter((m) => m.type === 'aws:cdk:acknowledged-rules')
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([rule, reason]) => ({ rule: rule.replace(/^[A-Za-z]+::/, ''), reason }));
    const health = logicalId('AWS::Lambda::Function', (p) => JSON.stringify(p.Environment).includes('"cachevault-health"'));
    expect(acks.map((a) => a.rule).sort()).toEqual([`AwsSolutions-IAM5[Resource::<${health}.Arn>:*]`, 'AwsSolutions-SMG4']);
    for (const { reason } of acks) expect(reason.length).toBeGreaterThan(80);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
    template.resourceCountIs('AWS::Lambda::Function', 5);
  });

  describe('the grants', () => {
    const region = (service: string) => ({ 'Fn::Join': ['', [`${service}.`, { Ref: 'AWS::Region' }, '.amazonaws.com']] });
    const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
    const line = (action: string, resource: unknown, condition: unknown = null) => `Allow ${action} ${JSON.stringify(resource)} ${JSON.stringify(condition)}`;
    const TABLE_READ = ['GetItem', 'BatchGetItem', 'Query', 'Scan', 'DescribeTable', 'DescribeTimeToLive'];
    const TABLE_WRITE = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'];

    /** Written out here, not taken from the constructs: what a client does, and the conditions that fence each key. */
    function expectedClientGrants(fnName: 'Orders' | 'Report', write: boolean): string[] {
      const table = logicalId('AWS::DynamoDB::Table');
      const storageKey = logicalId('AWS::KMS::Key', described(/encrypts the table/));
      const wrappingKey = logicalId('AWS::KMS::Key', described(/wraps the cache/));
      const macKey = logicalId('AWS::KMS::Key', described(/MACs the key manifest/));
      const secret = logicalId('AWS::SecretsManager::Secret');
      const logGroup = `${fnName}Logs`;
      const logGroupId = Object.keys(resources).find((id) => id.startsWith(logGroup) && resources[id].Type === 'AWS::Logs::LogGroup')!;
      const viaDynamoDB = { StringEquals: { 'kms:ViaService': region('dynamodb') } };
      return [
        ...[...TABLE_READ, ...(write ? TABLE_WRITE : [])].map((a) => line(`dynamodb:${a}`, arn(table))),
        ...['Decrypt', 'DescribeKey', ...(write ? ['Encrypt', 'GenerateDataKey'] : [])].map((a) => line(`kms:${a}`, arn(storageKey), viaDynamoDB)),
        line('secretsmanager:GetSecretValue', { Ref: secret }),
        line('secretsmanager:DescribeSecret', { Ref: secret }),
        line('kms:Decrypt', arn(storageKey), { StringEquals: { 'kms:ViaService': region('secretsmanager') } }),
        line('kms:Decrypt', arn(wrappingKey), { StringEquals: { 'kms:EncryptionContext:app': 'orders', 'kms:EncryptionContext:env': 'dev' } }),
        line('kms:VerifyMac', arn(macKey), { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } }),
        // The example's own: its function writes to its log group and nowhere else.
        line('logs:CreateLogStream', arn(logGroupId)),
        line('logs:PutLogEvents', arn(logGroupId)),
      ].sort();
    }

    it('give the orders Lambda, through grantReadWrite, exactly the statements a client that writes needs', () => {
      expect(grantsOf(roleOf(appFunction('Orders')))).toEqual(expectedClientGrants('Orders', true));
    });

    it('give the report Lambda, through grantRead, exactly the read statements: no write, no data key, no MAC', () => {
      const grants = grantsOf(roleOf(appFunction('Report')));
      expect(grants).toEqual(expectedClientGrants('Report', false));
      const actions = grants.map((g) => g.split(' ')[1]);
      for (const write of [...TABLE_WRITE.map((a) => `dynamodb:${a}`), 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:GenerateMac', 'secretsmanager:PutSecretValue']) {
        expect(actions).not.toContain(write);
      }
    });
  });

  it('configures both Lambdas for the cache with clientEnvironment', () => {
    const table = logicalId('AWS::DynamoDB::Table');
    for (const name of ['Orders', 'Report']) {
      const variables = (resources[appFunction(name)].Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables).toEqual({
        CACHEVAULT_BACKEND: 'dynamodb',
        CACHEVAULT_DYNAMODB_TABLE_NAME: { Ref: table },
        CACHEVAULT_DYNAMODB_REGION: { Ref: 'AWS::Region' },
        CACHEVAULT_KEYS_PROVIDERS: 'kms',
        CACHEVAULT_KEYS_APP: 'orders',
        CACHEVAULT_KEYS_ENVIRONMENT: 'dev',
        CACHEVAULT_KEYS_MANIFEST_STORE: 'secretsmanager',
        CACHEVAULT_KEYS_MANIFEST_SECRET_ID: { Ref: logicalId('AWS::SecretsManager::Secret') },
        CACHEVAULT_KEYS_MANIFEST_REGION: { Ref: 'AWS::Region' },
        CACHEVAULT_KEYS_KMS_KEY_ID: { 'Fn::GetAtt': [logicalId('AWS::KMS::Key', described(/wraps the cache/)), 'Arn'] },
        CACHEVAULT_KEYS_KMS_MAC_KEY_ID: { 'Fn::GetAtt': [logicalId('AWS::KMS::Key', described(/MACs the key manifest/)), 'Arn'] },
        CACHEVAULT_KEYS_KMS_REGION: { Ref: 'AWS::Region' },
        CACHEVAULT_KEYS_WRAP_LOCALLY: 'false',
        CACHEVAULT_AUDIT_ENABLED: 'false',
        CACHEVAULT_FILE_DIR: '/tmp/cachevault',
        CACHEVAULT_LOGGING_LEVEL: 'info',
      });
    }
  });

  it('deploys the operations Lambdas from the bundles the package ships, and each loads and exports its handler', () => {
    const ops = Object.entries(resources).filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('CacheOperations'));
    expect(ops.map(([, r]) => String((r.Properties.Environment as { Variables: Record<string, string> }).Variables.POWERTOOLS_SERVICE_NAME)).sort()).toEqual([
      'cachevault-health',
      'cachevault-migrate',
      'cachevault-rotate-keys',
    ]);
    for (const [, r] of ops) {
      // What NodejsFunction makes of the sources in a checkout (test/unit/cdk/operationsStack.test.ts checks the same there).
      expect(r.Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler', Architectures: ['arm64'], LoggingConfig: { LogFormat: 'JSON' } });
    }
    const staged = ops.map(([, r]) => {
      const name = String((r.Properties.Environment as { Variables: Record<string, string> }).Variables.POWERTOOLS_SERVICE_NAME).replace('cachevault-', '');
      const asset = join(cdkOut, r.Metadata!['aws:asset:path']);
      expect(readdirSync(asset)).toEqual(['index.js']);
      expect(readFileSync(join(asset, 'index.js'))).toEqual(readFileSync(join(dir, 'node_modules/cachevault/dist/functions', name, 'index.js')));
      return join(asset, 'index.js');
    });
    // The runtime provides the AWS SDK; here it comes from this checkout's node_modules.
    const loaded = run(process.execPath, ['-e', `console.log(JSON.stringify(${JSON.stringify(staged)}.map((f) => typeof require(f).handler)))`], {
      NODE_PATH: repoModules,
      AWS_REGION: 'us-east-1',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    expect(JSON.parse(loaded)).toEqual(['function', 'function', 'function']);
  });

  it('gives import and require of cachevault/cdk the same construct classes', () => {
    const out = run(process.execPath, [
      '--input-type=module',
      '-e',
      "import { createRequire } from 'node:module'; const esm = await import('cachevault/cdk'); const cjs = createRequire(process.cwd() + '/')('cachevault/cdk'); console.log(JSON.stringify([typeof esm.CacheVaultData, esm.CacheVaultData === cjs.CacheVaultData, esm.CacheVaultOperations === cjs.CacheVaultOperations]));",
    ]);
    expect(JSON.parse(out)).toEqual(['function', true, true]);
  });

  it('type-checks against the types the package ships (tsc, nodenext)', async () => {
    expect(await typecheck).toEqual({ failed: false, output: '' });
  });

  it("loads none of aws-cdk-lib, constructs, keyv, middy or OpenTelemetry for `require('cachevault')` or `import('cachevault')`, and aws-cdk-lib for cachevault/cdk", () => {
    // Every package in require.cache after `load` (ESM imports of CommonJS files land there too).
    const packagesLoadedBy = (load: string) =>
      JSON.parse(
        run(process.execPath, [
          '-e',
          `(async () => { ${load}; const names = Object.keys(require.cache).filter((p) => p.includes('node_modules/')).map((p) => p.split('node_modules/').pop().split('/')).map(([a, b]) => (a.startsWith('@') ? a + '/' + b : a)); console.log(JSON.stringify([...new Set(names)])); })();`,
        ]),
      ) as string[];
    const FORBIDDEN = /^(aws-cdk-lib|constructs|cdk-nag|keyv|@keyv\/.*|@middy\/.*|@opentelemetry\/.*|@aws-lambda-powertools\/.*)$/;
    const probe = (load: string) => packagesLoadedBy(load).filter((name) => FORBIDDEN.test(name)).sort();
    expect(probe("require('cachevault')")).toEqual([]);
    expect(probe("await import('cachevault')")).toEqual([]);
    expect(probe("require('cachevault/cdk')").sort()).toEqual(['aws-cdk-lib', 'constructs']);
  });

  it('fails the synth when the app adds a resource cdk-nag objects to (its checks are really on)', async () => {
    const { failed, output } = await badSynth;
    expect(failed).toBe(true);
    expect(output).toMatch(/AwsSolutions-DDB3/);
    expect(output).not.toMatch(/AwsSolutions-(?!DDB3)[A-Z]+\d/);
  });
});
