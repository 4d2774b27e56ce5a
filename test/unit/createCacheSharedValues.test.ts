import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCache } from '../../client/createCache';

describe('createCache memory.sharedValues', () => {
  const open = (sharedValues?: boolean) => {
    const home = mkdtempSync(join(tmpdir(), 'cv-shared-'));
    return createCache({ backend: 'memory', memory: { sharedValues }, encryption: { enabled: false }, audit: { enabled: false }, cwd: home, env: { HOME: home } });
  };

  test('on, memory hits share one frozen object', async () => {
    const cache = await open(true);
    await cache.set('k', { list: [1] });
    const first = await cache.get<{ list: number[] }>('k');
    expect(await cache.get('k')).toBe(first);
    expect(Object.isFrozen(first!.list)).toBe(true);
    await cache.close();
  });

  test('by default each hit is its own mutable copy', async () => {
    const cache = await open();
    await cache.set('k', { list: [1] });
    const first = (await cache.get<{ list: number[] }>('k'))!;
    first.list.push(2);
    expect(await cache.get('k')).toEqual({ list: [1] });
    await cache.close();
  });
});
