import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENVIRONMENT_NAMES, parametersFor, UnknownEnvironmentError } from '../../../lib/parameters';

const root = join(__dirname, '../../..');

describe('per-environment parameters', () => {
  it.each(ENVIRONMENT_NAMES)('parametersFor(%s) returns the parameters of that environment', (name) => {
    expect(parametersFor(name).envName).toBe(name);
  });

  it('an unknown environment name throws an error that lists the known ones', () => {
    expect(() => parametersFor('production')).toThrow(UnknownEnvironmentError);
    expect(() => parametersFor('production')).toThrow('Unknown environment "production". Use -c env=NAME with one of: dev, staging, prod.');
  });

  it('a missing environment name throws an error that says how to pass one', () => {
    expect(() => parametersFor(undefined)).toThrow(/No environment given\. Run with -c env=NAME/);
  });

  it('only prod uses provisioned capacity, and only dev may be destroyed with its stack', () => {
    expect(parametersFor('prod').billing).toEqual({ mode: 'PROVISIONED', readCapacity: 50, writeCapacity: 25 });
    expect(parametersFor('staging').billing.mode).toBe('PAY_PER_REQUEST');
    expect(ENVIRONMENT_NAMES.filter((n) => parametersFor(n).retention === 'destroy')).toEqual(['dev']);
  });
});

describe('bin/app.ts', () => {
  const runApp = (context: Record<string, string>) => {
    const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
    try {
      return spawnSync(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), join(root, 'bin/app.ts')], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir },
      });
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  };

  it('fails with a clear message when -c env names no known environment', () => {
    const result = runApp({ env: 'qa' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Unknown environment "qa". Use -c env=NAME with one of: dev, staging, prod.');
  });

  it('fails with a clear message when -c env is missing', () => {
    const result = runApp({});
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('No environment given. Run with -c env=NAME');
  });
});
