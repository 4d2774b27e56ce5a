import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configLeaves, envVarName, loadConfig } from '../../client/config/loadConfig';
import { AdvancedCacheConfig } from '../../client/config/schema';

const root = join(__dirname, '..', '..');
const doc = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');
const rows = new Map<string, string>();
for (const line of doc.split('\n')) {
  const match = /^\| `([A-Za-z][A-Za-z0-9.]*)` \|.*`CACHEVAULT_[A-Z0-9_]+`/.exec(line);
  if (match) rows.set(match[1]!, line);
}
const defaults = AdvancedCacheConfig.parse({}) as unknown as Record<string, unknown>;
const defaultOf = (path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], defaults);
const leaves = configLeaves().map((l) => l.path);
const exampleFiles = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.json'));

describe('docs/configuration.md', () => {
  it.each(leaves)('documents %s with its environment variable and default', (path) => {
    const row = rows.get(path);
    expect(row).toBeDefined();
    expect(row).toContain(`\`${envVarName(path)}\``);
    const value = defaultOf(path);
    expect(row).toContain(value === undefined ? '(unset)' : `\`${JSON.stringify(value)}\``);
  });

  it('documents no option the schema does not have', () => {
    expect([...rows.keys()].filter((path) => !leaves.includes(path))).toEqual([]);
  });

  it('lists every example file', () => {
    for (const file of exampleFiles) expect(doc).toContain(`examples/${file}`);
  });
});

describe('examples/*.json', () => {
  it('has examples', () => {
    expect(exampleFiles.length).toBeGreaterThan(0);
  });

  it.each(exampleFiles)('%s is a valid configuration on its own', (file) => {
    const path = join(root, 'examples', file);
    const loaded = loadConfig({ file: path, env: {} });
    // Each value the file sets is the value in effect, attributed to the file.
    const written = flatten(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>);
    expect(written.length).toBeGreaterThan(0);
    for (const [leaf, value] of written) {
      expect(leaf.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], loaded.config)).toEqual(value);
      expect(loaded.sources.get(leaf)).toBe(`file:${path}`);
    }
  });
});

function flatten(obj: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(obj).flatMap(([k, v]): [string, unknown][] => {
    const path = prefix ? `${prefix}.${k}` : k;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? flatten(v as Record<string, unknown>, path) : [[path, v]];
  });
}
