import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, KeyUnavailableError } from '../../../client/errors';
import { StaticKeySource } from '../../../client/keys/staticKeySource';

describe('StaticKeySource', () => {
  test('the last key is active unless another is named', async () => {
    const keys = [{ id: 'k1', material: randomBytes(32) }, { id: 'k2', material: randomBytes(32) }];
    expect((await new StaticKeySource(keys).activeKey()).id).toBe('k2');
    expect((await new StaticKeySource(keys, 'k1').activeKey()).id).toBe('k1');
  });

  test('copies the material, so the caller may zero its own buffer', async () => {
    const material = randomBytes(32);
    const expected = Buffer.from(material);
    const source = new StaticKeySource([{ id: 'k1', material }]);
    material.fill(0);
    expect((await source.keyById('k1')).material.equals(expected)).toBe(true);
  });

  test('an unknown version id rejects with KeyUnavailableError naming it', async () => {
    const source = new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]);
    await expect(source.keyById('k2')).rejects.toThrow(KeyUnavailableError);
    await expect(source.keyById('k2')).rejects.toMatchObject({ keyId: 'k2' });
  });

  test.each([
    ['no keys', [], undefined],
    ['a 16-byte key', [{ id: 'k1', material: randomBytes(16) }], undefined],
    ['a bad id', [{ id: 'k 1', material: randomBytes(32) }], undefined],
    ['a duplicate id', [{ id: 'k1', material: randomBytes(32) }, { id: 'k1', material: randomBytes(32) }], undefined],
    ['an active id not among the keys', [{ id: 'k1', material: randomBytes(32) }], 'k2'],
  ])('rejects %s with InvalidArgumentError', (_what, keys, active) => {
    expect(() => new StaticKeySource(keys, active)).toThrow(InvalidArgumentError);
  });

  test('close() zeroes the material it handed out and later lookups fail', async () => {
    const source = new StaticKeySource([{ id: 'k1', material: randomBytes(32) }]);
    const key = await source.activeKey();
    source.close();
    expect(key.material.equals(Buffer.alloc(32))).toBe(true);
    await expect(source.activeKey()).rejects.toThrow(KeyUnavailableError);
  });
});
