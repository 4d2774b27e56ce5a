import { backendRegistry } from '../../client/backends/registry';
import { findLiteralComparisons, formatLiteralComparisons, repositoryProgram, sourcesProgram } from '../support/literalComparisons';

const REGISTRY = 'client/backends/registry/';

describe('backend type names outside the registry', () => {
  it('no file of client/, lambda/, lib/ or bin/ outside the backend registry compares a backend type to a string literal', () => {
    const program = repositoryProgram(['client', 'lambda', 'lib', 'bin']);
    const found = findLiteralComparisons(program, { names: backendRegistry.names, allowedFiles: [REGISTRY], typed: 'wide' });
    // Each line is a decision about one backend made outside its definition: give the definition
    // a capability (like `shared` or `persistent`) and read that instead. Code that uses one
    // backend's own features asks `usesTier(config, 'file')` with a typed name.
    expect(formatLiteralComparisons(found)).toBe('');
  }, 180_000);
});

describe('the literal-comparison check, wide', () => {
  const names = ['memory', 'file', 'dynamodb', 'hybrid'];
  const source = [
    "type Backend = 'memory' | 'file' | 'dynamodb' | 'hybrid';",
    "declare const backend: Backend; declare const tiers: Backend[]; declare const tier: 'file' | 'dynamodb' | 'all';",
    "declare const store: 'file' | 'secretsmanager'; declare const backendName: string; declare function usesTier(t: Backend): boolean;",
    "export const a = backend === 'file';",
    "export const b = tiers.includes('dynamodb');",
    "export const c = tier === 'file';",
    "export const d = backendName === 'dynamodb';",
    // Not a switch on backend names: one shared word, a typed argument, a literal assigned.
    "export const e = store === 'file';",
    "export const f = usesTier('file');",
    "export const g = { backend: 'memory' as Backend };",
  ].join('\n');

  it('also flags unions mixing names with other words and plain strings, but not a vocabulary sharing one word', () => {
    const found = findLiteralComparisons(sourcesProgram({ '/virtual/sample.ts': source }), { names, typed: 'wide' });
    expect(found.map((c) => [c.line, c.name])).toEqual([
      [4, 'file'],
      [5, 'dynamodb'],
      [6, 'file'],
      [7, 'dynamodb'],
    ]);
  });

  it('flags only name-made types without it', () => {
    const found = findLiteralComparisons(sourcesProgram({ '/virtual/sample.ts': source }), { names });
    expect(found.map((c) => [c.line, c.name])).toEqual([
      [4, 'file'],
      [5, 'dynamodb'],
    ]);
  });

  it('leaves an allowed folder alone', () => {
    const program = sourcesProgram({ '/virtual/registry/entries.ts': source, '/virtual/other.ts': source });
    const found = findLiteralComparisons(program, { names, allowedFiles: ['/virtual/registry/'], typed: 'wide' });
    expect(new Set(found.map((c) => c.file))).toEqual(new Set(['/virtual/other.ts']));
  });
});
