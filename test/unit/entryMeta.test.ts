import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { frameEntry, unframeEntry } from '../../client/core/entryMeta';
import { msgpackSerializer, type Serializer } from '../../client/core/serializer';
import { IntegrityError } from '../../client/errors';
import { ManualClock } from '../contract/backendContract';

describe('entry metadata frame', () => {
  test('a value without metadata is stored exactly as serialized, with no frame', () => {
    const payload = msgpackSerializer.serialize({ a: 1 });
    expect(frameEntry(payload, undefined)).toBe(payload);
    expect(frameEntry(payload, {})).toBe(payload);
    expect(unframeEntry(payload)).toEqual({ meta: undefined, payload });
  });

  test('metadata round-trips: logical expiry, negative marker and tag versions', () => {
    const payload = msgpackSerializer.serialize('v');
    const meta = { freshUntil: 1_700_000_000_000, negative: true, tags: [['users', 'abc'], ['t2', 'def']] as [string, string][] };
    const { meta: read, payload: rest } = unframeEntry(frameEntry(payload, meta));
    expect(read).toEqual(meta);
    expect(Buffer.from(rest).equals(Buffer.from(payload))).toBe(true);
  });

  test('a custom serializer whose output starts like a frame is framed, so it is never misread as one', async () => {
    const lookalike = Buffer.concat([Buffer.from([0xc1, 0x63, 0x76, 0x6d, 1, 0, 0, 0, 2]), Buffer.from('{}rest')]);
    const raw: Serializer = { serialize: () => lookalike, deserialize: (b) => Buffer.from(b).toString('latin1') };
    const clock = new ManualClock();
    const cache = new CacheManager({ backend: new MemoryBackend({ clock: clock.read }), clock: clock.read, serializer: raw });
    await cache.set('k', 'ignored');
    expect(await cache.get('k')).toBe(lookalike.toString('latin1'));
  });

  test('a client that predates the frame fails to decode a framed entry (a counted miss), never returns the frame as a value', () => {
    const framed = frameEntry(msgpackSerializer.serialize('v'), { negative: true });
    expect(() => msgpackSerializer.deserialize(framed)).toThrow();
  });

  test('a frame of an unknown version, truncated or with malformed metadata is an IntegrityError', () => {
    const framed = Buffer.from(frameEntry(Buffer.from('x'), { freshUntil: 5 }));
    const newer = Buffer.from(framed);
    newer[4] = 2;
    expect(() => unframeEntry(newer)).toThrow(/newer cachevault|frame version 2/);
    expect(() => unframeEntry(framed.subarray(0, 6))).toThrow(IntegrityError);
    const badMeta = Buffer.concat([framed.subarray(0, 5), Buffer.from([0, 0, 0, 8]), Buffer.from('{"f":-1}'), Buffer.from('x')]);
    expect(() => unframeEntry(badMeta)).toThrow(/invalid logical expiry/);
    const badTags = Buffer.concat([framed.subarray(0, 5), Buffer.from([0, 0, 0, 11]), Buffer.from('{"t":[[1]]}'), Buffer.from('x')]);
    expect(() => unframeEntry(badTags)).toThrow(/invalid tags/);
  });
});
