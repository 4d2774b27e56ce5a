import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { findNameComparisons, type NameComparisonCheck } from '../../support/literalNameComparisons';

const NAMES = ['memory', 'file', 'dynamodb', 'hybrid'];
const HEADER = `
type Backend = 'memory' | 'file' | 'dynamodb' | 'hybrid';
declare const backend: Backend;
declare const tiers: Backend[];
declare const store: 'file' | 'secretsmanager';
declare const untyped: string;
declare function usesTier(tier: Backend): boolean;
`;
const OPTIONS: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, lib: ['lib.es2023.d.ts'], types: [] };

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cv-names-'));
  mkdirSync(join(root, 'src', 'registry'), { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function check(body: string, extra: Partial<NameComparisonCheck> = {}): string[] {
  writeFileSync(join(root, 'src', 'code.ts'), `${HEADER}\n${body}\nexport {};\n`);
  return findNameComparisons({ names: NAMES, roots: ['src'], allowedPaths: ['src/registry/'], rootDir: root, compilerOptions: OPTIONS, ...extra }).map(
    (c) => `${c.kind} ${c.name}`,
  );
}

describe('findNameComparisons', () => {
  it('reports === and !== against a name-typed expression, the literal on either side', () => {
    expect(check(`const a = backend === 'file'; const b = 'dynamodb' !== backend; void a; void b;`)).toEqual(['equality file', 'equality dynamodb']);
  });

  it('reports a case clause of a switch over a name-typed expression', () => {
    expect(check(`switch (backend) { case 'memory': break; default: break; }`)).toEqual(['case memory']);
  });

  it('reports includes and has on a collection of names', () => {
    expect(check(`const a = tiers.includes('dynamodb'); const b = new Set<Backend>().has('file'); void a; void b;`)).toEqual(['call dynamodb', 'call file']);
  });

  it('reports a comparison with a plain string, which the type cannot tell from a name', () => {
    expect(check(`const a = untyped === 'hybrid'; void a;`)).toEqual(['equality hybrid']);
  });

  it('ignores a vocabulary that shares only one word with the names (manifest.store)', () => {
    expect(check(`const a = store === 'file'; void a;`)).toEqual([]);
  });

  it('ignores a typed function argument, which asks about one backend rather than switching', () => {
    expect(check(`const a = usesTier('file'); void a;`)).toEqual([]);
  });

  it('ignores the allowed paths and the allowed occurrences, and only those', () => {
    writeFileSync(join(root, 'src', 'registry', 'entries.ts'), `${HEADER}\nconst a = backend === 'file'; void a;\nexport {};\n`);
    const allow = [{ file: 'src/code.ts', contains: "untyped === 'memory'", reason: 'a test of the allowlist' }];
    expect(check(`const a = untyped === 'memory';\nconst b = untyped === 'file';\nvoid a;\nvoid b;`, { allow })).toEqual(['equality file']);
  });
});
