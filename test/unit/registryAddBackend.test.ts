/**
 * The claim of the backend registry: a new backend type is one source file plus one registry
 * line. `map` (test/support/mapBackend.ts) is registered below in one line, and everything the
 * registry derives picks it up with no other edit: the config schema (backend, fallback, hybrid
 * tiers, its section), the factory, hybrid tiers, the migration spec parser and describer, and
 * the capability questions the CLI and Lambdas ask.
 */
import { createBackend } from '../../client/backends/backendFactory';
import { createBackendRegistry } from '../../client/backends/registry';
import { dynamodbBackendDefinition } from '../../client/backends/registry/dynamodb';
import { fileBackendDefinition } from '../../client/backends/registry/file';
import { memoryBackendDefinition } from '../../client/backends/registry/memory';
import { configSchemaFor, type AdvancedCacheConfig } from '../../client/config/schema';
import { describeSpec, parseBackendSpec } from '../../client/migrate/backendSpec';
import { BackendSpecError } from '../../client/migrate/errors';
import type { StoredEntry } from '../../client/types';
import { MapBackend, mapBackendDefinition } from '../support/mapBackend';

// The one registry line.
const registry = createBackendRegistry([memoryBackendDefinition, fileBackendDefinition, dynamodbBackendDefinition, mapBackendDefinition], { defaultHybridTiers: ['memory', 'file'] });
const Config = configSchemaFor(registry);
const parse = (input: unknown): AdvancedCacheConfig => Config.parse(input) as unknown as AdvancedCacheConfig;
const entry = (key: string, value: string): StoredEntry => ({ namespace: 'ns', key, value: Buffer.from(value), expiresAt: null, keyId: 'none', createdAt: 0 });

afterEach(() => MapBackend.reset());

describe('a backend type added through the registry', () => {
  it('gets its config section, with defaults, and is accepted as backend, fallback and hybrid tier', () => {
    const config = Config.parse({ backend: 'map', fallback: 'map', map: { store: 'orders' }, hybrid: { tiers: ['memory', 'map'] } });
    expect(config.backend).toBe('map');
    expect(config.fallback).toBe('map');
    expect(config.hybrid.tiers).toEqual(['memory', 'map']);
    expect((config as Record<string, unknown>).map).toEqual({ store: 'orders', maxEntries: 10_000 });
    expect((Config.parse({}) as Record<string, unknown>).map).toEqual({ store: 'default', maxEntries: 10_000 });
    // The defaults stay the built-in ones: a registered type is used only when named.
    expect(Config.parse({}).hybrid.tiers).toEqual(['memory', 'file']);
  });

  it('is validated like the built-in sections: unknown fields and bad values are refused', () => {
    expect(Config.safeParse({ map: { store: 'orders', colour: 'red' } }).success).toBe(false);
    expect(Config.safeParse({ map: { maxEntries: 0 } }).success).toBe(false);
    expect(Config.safeParse({ backend: 'redis' }).success).toBe(false);
  });

  it('is started by the factory, alone', async () => {
    const created = await createBackend(parse({ backend: 'map', map: { store: 'alone' } }), {}, registry);
    expect(created.name).toBe('map');
    expect(created.backend).toBeInstanceOf(MapBackend);
    await created.backend.set(entry('k', 'v'));
    expect(Buffer.from((await created.backend.get('ns', 'k'))!.value).toString()).toBe('v');
    await created.backend.close();
  });

  it('is started as a shared hybrid tier: what one instance writes through, another reads', async () => {
    const config = parse({ backend: 'hybrid', hybrid: { tiers: ['memory', 'map'] }, map: { store: 'shared' } });
    const a = await createBackend(config, {}, registry);
    const b = await createBackend(config, {}, registry);
    expect(a.name).toBe('hybrid');
    expect(a.backend.capabilities.shared).toBe(true);
    await a.backend.set(entry('k', 'from a'));
    expect(Buffer.from((await b.backend.get('ns', 'k'))!.value).toString()).toBe('from a');
    expect(Object.keys(a.backend.stats().tiers ?? {})).toEqual(['memory', 'map']);
    await Promise.all([a.backend.close(), b.backend.close()]);
  });

  it('answers the capability questions asked instead of name comparisons', () => {
    expect(registry.usesSharedTier(parse({ backend: 'hybrid', hybrid: { tiers: ['memory', 'map'] } }))).toBe(true);
    expect(registry.usesSharedTier(parse({ backend: 'hybrid', hybrid: { tiers: ['memory', 'file'] } }))).toBe(false);
    expect(registry.configuredTiers(parse({ backend: 'map' }))).toEqual(['map']);
    expect(registry.tierNames).toContain('map');
    expect(registry.specNames).toEqual(['memory', 'file', 'dynamodb', 'map']);
  });

  it('is named by migration specs, with its own location and parameters', () => {
    const spec = parseBackendSpec('map:orders?maxEntries=50', { registry, schema: Config });
    expect(spec).toEqual({ type: 'map', config: { backend: 'map', map: { store: 'orders', maxEntries: 50 } } });
    expect(describeSpec(spec, { registry, schema: Config })).toBe('map:orders');
    expect(() => parseBackendSpec('map:', { registry, schema: Config })).toThrow(/map: needs a store name/);
    expect(() => parseBackendSpec('map:orders?durability=full', { registry, schema: Config })).toThrow(/unknown parameter "durability" for map:; allowed: maxEntries/);
    expect(() => parseBackendSpec('map:Orders!', { registry, schema: Config })).toThrow(BackendSpecError);
  });

  it('is unknown to the built-in registry, so registering it in a test changes nothing for the product', () => {
    expect(() => parseBackendSpec('map:orders')).toThrow(/unknown backend type "map"; expected memory, file or dynamodb/);
  });
});
