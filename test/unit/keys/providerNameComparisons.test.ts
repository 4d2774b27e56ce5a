import { KEY_PROVIDER_NAMES } from '../../../client/keys/providerRegistry';
import { findLiteralComparisons, formatLiteralComparisons, repositoryProgram, sourcesProgram } from '../../support/literalComparisons';

const REGISTRY = 'client/keys/providerRegistry.ts';

describe('key-provider names outside the registry', () => {
  it('no file of client/, lambda/, lib/ or bin/ outside the registry compares a provider name to a string literal', () => {
    const program = repositoryProgram(['client', 'lambda', 'lib', 'bin']);
    const found = findLiteralComparisons(program, { names: KEY_PROVIDER_NAMES, allowedFiles: [REGISTRY] });
    // Each line is a decision about one provider made outside its registry entry: give the entry
    // a property (like `remote` or `localRootKey`) and read that instead.
    expect(formatLiteralComparisons(found)).toBe('');
  }, 120_000);
});

describe('the literal-comparison check', () => {
  const names = ['kms', 'keyring', 'env'];
  const source = [
    "type Name = 'kms' | 'keyring' | 'env';",
    "type Local = 'keyring' | 'env';",
    "declare const name: Name; declare const local: Local | undefined; declare const names: readonly Name[]; declare const set: Set<Name>;",
    "declare const store: 'file' | 'secretsmanager'; declare const text: string;",
    "export const a = name === 'kms';",
    "export const b = 'env' !== name;",
    "export const c = local === 'env';",
    "export const d = names.includes('keyring');",
    "export const e = set.has('kms');",
    "export function f(n: Name): number { switch (n) { case 'kms': return 1; default: return 0; } }",
    // Not provider names: another vocabulary sharing no word, a plain string, a non-name literal.
    "export const g = store === 'file';",
    "export const h = text === 'env';",
    "export const i = name === ('other' as Name);",
    "export const j = { provider: 'kms' as Name };",
  ].join('\n');

  it('flags ===, !==, switch cases, includes and has on values typed by the names, and nothing else', () => {
    const found = findLiteralComparisons(sourcesProgram({ '/virtual/sample.ts': source }), { names });
    expect(found.map((c) => [c.line, c.name])).toEqual([
      [5, 'kms'],
      [6, 'env'],
      [7, 'env'],
      [8, 'keyring'],
      [9, 'kms'],
      [10, 'kms'],
    ]);
  });

  it('leaves the allowed files alone', () => {
    const program = sourcesProgram({ '/virtual/registry.ts': source, '/virtual/other.ts': source });
    const found = findLiteralComparisons(program, { names, allowedFiles: ['/virtual/registry.ts'] });
    expect(new Set(found.map((c) => c.file))).toEqual(new Set(['/virtual/other.ts']));
  });
});
