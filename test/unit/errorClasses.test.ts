import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { TableNotFoundError } from '../../client/dynamodb/errors';
import { CacheVaultError, InvalidArgumentError } from '../../client/errors';
import { ManifestIntegrityError, ManifestIntegrityFailure } from '../../client/keys/errors';

/**
 * Every error class of the client and the Lambdas, found in the source: a class added later is
 * checked without editing this file. Each declares its `name` as a string (client/errors.ts says
 * why not `new.target.name`); these tests hold the declared names to the class names, in the
 * source and in a minified bundle.
 */
const ROOT = join(__dirname, '../..');

interface ErrorClass {
  readonly file: string;
  readonly className: string;
  readonly parent: string;
}

function errorClasses(): ErrorClass[] {
  const declared: ErrorClass[] = [];
  for (const dir of ['client', 'lambda']) {
    for (const entry of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      if (!entry.endsWith('.ts') || entry.endsWith('.d.ts')) continue;
      const file = join(dir, entry);
      for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(/^export class (\w+) extends (\w+)/gm)) {
        declared.push({ file, className: m[1]!, parent: m[2]! });
      }
    }
  }
  // Descendants of CacheVaultError, by name: class names are unique in the code base (checked below).
  const ours = new Set(['CacheVaultError']);
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of declared) {
      if (ours.has(c.parent) && !ours.has(c.className)) {
        ours.add(c.className);
        grew = true;
      }
    }
  }
  return declared.filter((c) => ours.has(c.className)).sort((a, b) => a.className.localeCompare(b.className));
}

const CLASSES = errorClasses();

/**
 * Constructor arguments: one string per required parameter (at least one: a class that inherits
 * its constructor reports length 0), except where a constructor computes with a number, a list or
 * one of a few words. JSON, so the bundle's child process gets the same.
 */
const SPECIAL_ARGS: Readonly<Record<string, readonly unknown[]>> = {
  DynamoDBThrottledError: ['cache-table', 'GetItem', 1.5],
  NoKeyProviderError: ['Unwrapping k1', [{ provider: 'env', reason: 'unset', hint: 'set it' }], 'k1'],
  ManifestIntegrityError: ['rollback', 'The manifest went back a revision.'],
  AwsCredentialsMissingError: ['cache-table', 'expired'],
  TableSchemaMismatchError: ['cache-table', ['its key schema is not cachevault\'s']],
};

type Constructor = new (...args: unknown[]) => CacheVaultError;

function argsFor(className: string, ctor: Constructor): readonly unknown[] {
  return SPECIAL_ARGS[className] ?? Array.from({ length: Math.max(1, ctor.length) }, (_, i) => `arg${i}`);
}

function load(c: ErrorClass): Constructor {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(join(ROOT, c.file)) as Record<string, unknown>;
  return mod[c.className] as Constructor;
}

describe('error classes', () => {
  it('finds the error classes of every area in the source', () => {
    expect(CLASSES.length).toBeGreaterThanOrEqual(50);
    const names = CLASSES.map((c) => c.className);
    expect(new Set(names).size).toBe(names.length);
    const areas = new Set(CLASSES.map((c) => relative(ROOT, join(ROOT, c.file)).split('/').slice(0, 2).join('/')));
    expect([...areas]).toEqual(expect.arrayContaining(['client/errors.ts', 'client/dynamodb', 'client/keys', 'client/cli', 'lambda/errors.ts']));
  });

  it.each(CLASSES.map((c) => [c.className, c] as const))('%s is named for its class and keeps the CacheVaultError shape', (className, c) => {
    const ctor = load(c);
    expect(typeof ctor).toBe('function');
    const err = new ctor(...argsFor(className, ctor));
    expect(err).toBeInstanceOf(CacheVaultError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe(className);
    expect(err.stack?.split('\n')[0]).toBe(err.message === '' ? className : `${className}: ${err.message.split('\n')[0]}`);
    expect(String(err).startsWith(`${className}`)).toBe(true);
    expect(err.code).toMatch(/^[A-Z][A-Z0-9_]+$/);
    expect(typeof err.context).toBe('object');
  });

  it('gives every class its own code', () => {
    const codes = new Map<string, string>();
    for (const c of CLASSES) {
      const ctor = load(c);
      const { code } = new ctor(...argsFor(c.className, ctor));
      expect({ className: c.className, sharedWith: codes.get(code) }).toEqual({ className: c.className, sharedWith: undefined });
      codes.set(code, c.className);
    }
  });

  it('documents every code in docs/, where a user who meets it looks it up', () => {
    const docs = readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => readFileSync(join(ROOT, 'docs', f), 'utf8'))
      .join('\n');
    // The base is never thrown as itself; ManifestIntegrityError's code is MANIFEST_ and its failure.
    const undocumented = CLASSES.filter((c) => c.className !== 'CacheVaultError' && c.className !== 'ManifestIntegrityError')
      .map((c) => {
        const ctor = load(c);
        return new ctor(...argsFor(c.className, ctor)).code;
      })
      .filter((code) => !docs.includes(`\`${code}\``));
    expect(undocumented).toEqual([]);
    for (const failure of Object.values(ManifestIntegrityFailure)) expect(docs).toContain(`\`${new ManifestIntegrityError(failure, 'm').code}\``);
  });

  it('keeps a cause and a caller hint through a subclass constructor', () => {
    const cause = new Error('ResourceNotFoundException');
    const notFound = new TableNotFoundError('cache-table', { cause });
    expect(notFound.cause).toBe(cause);
    expect(notFound.tableName).toBe('cache-table');
    expect(notFound.context).toEqual({ tableName: 'cache-table' });
    expect(notFound.hint).toMatch(/cachevault table create --table cache-table/);
    const bad = new InvalidArgumentError('TTL must be positive.', { hint: 'Pass ttlMs > 0.', context: { ttlMs: -1 } });
    expect([bad.message, bad.hint, bad.context, bad.cause]).toEqual(['TTL must be positive.', 'Pass ttlMs > 0.', { ttlMs: -1 }, undefined]);
  });

  it('keeps every name when the classes are bundled and minified with esbuild', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-error-names-'));
    const files = [...new Set(CLASSES.map((c) => c.file))];
    // A second ConfigError in the bundle, as an app of its own would have: esbuild renames one of
    // the two, which is what would break a name taken from the class.
    writeFileSync(join(dir, 'app.ts'), 'export class ConfigError extends Error {}\n');
    writeFileSync(
      join(dir, 'entry.ts'),
      [`export * as app from ${JSON.stringify(join(dir, 'app.ts'))};`, ...files.map((f, i) => `export * as m${i} from ${JSON.stringify(join(ROOT, f))};`)].join('\n'),
    );
    const esbuild = join(ROOT, 'node_modules/esbuild/bin/esbuild');
    execFileSync(esbuild, ['entry.ts', '--bundle', '--minify', '--platform=node', '--format=cjs', '--packages=external', '--log-level=error', '--outfile=bundle.js'], { cwd: dir });
    expect(readFileSync(join(dir, 'bundle.js'), 'utf8')).not.toMatch(/class TableNotFoundError\b/);

    const cases = CLASSES.map((c) => ({ module: `m${files.indexOf(c.file)}`, className: c.className, args: SPECIAL_ARGS[c.className] }));
    const script = `
      const bundle = require(${JSON.stringify(join(dir, 'bundle.js'))});
      const out = {};
      for (const c of ${JSON.stringify(cases)}) {
        const Ctor = bundle[c.module][c.className];
        const err = new Ctor(...(c.args ?? Array.from({ length: Math.max(1, Ctor.length) }, (_, i) => 'arg' + i)));
        out[c.className] = { name: err.name, code: err.code, head: err.stack.split('\\n')[0].split(':')[0] };
      }
      console.log(JSON.stringify(out));`;
    const stdout = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') }, encoding: 'utf8' });
    const bundled = JSON.parse(stdout) as Record<string, { name: string; code: string; head: string }>;
    for (const c of CLASSES) {
      const ctor = load(c);
      const { code } = new ctor(...argsFor(c.className, ctor));
      expect({ className: c.className, ...bundled[c.className] }).toEqual({ className: c.className, name: c.className, code, head: c.className });
    }
  }, 30_000);
});
