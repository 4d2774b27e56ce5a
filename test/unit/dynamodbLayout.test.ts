import { INLINE_KEY_BYTES, chunkSortKey, entryPartitionKey, namespaceGenerationPartitionKey, parsePartitionKey } from '../../client/dynamodb/itemKeys';
import { chunkItem, decodeEntryItem, entryItem, ttlSeconds } from '../../client/dynamodb/itemCodec';
import { decodeScanCursor, encodeScanCursor, cursorStartKey } from '../../client/dynamodb/scanCursor';
import { InvalidArgumentError } from '../../client/errors';
import type { StoredEntry } from '../../client/types';

const entry: StoredEntry = { namespace: 'ns', key: 'a#b', value: Buffer.from('xyz'), expiresAt: 1_700_000_000_001, keyId: 'k1', createdAt: 5 };

describe('partition keys', () => {
  test('short keys are kept whole after the namespace and its generation', () => {
    expect(entryPartitionKey('ns', 3, 'a#b')).toBe('ns#3#k:a#b');
    expect(parsePartitionKey('ns#3#k:a#b')).toEqual({ namespace: 'ns', generation: 3 });
  });

  test('keys over the inline limit are hashed, so the partition key stays under 2048 bytes', () => {
    const long = 'x'.repeat(INLINE_KEY_BYTES + 1);
    const pk = entryPartitionKey('ns', 0, long);
    expect(pk).toMatch(/^ns#0#h:[0-9a-f]{64}$/);
    expect(entryPartitionKey('ns', 0, 'x'.repeat(INLINE_KEY_BYTES))).toMatch(/#k:/);
  });

  test('a short key that looks like a hash cannot collide with a hashed one', () => {
    const long = 'y'.repeat(5_000);
    const hashed = entryPartitionKey('ns', 0, long);
    const lookalike = hashed.slice('ns#0#'.length);
    expect(entryPartitionKey('ns', 0, lookalike)).not.toBe(hashed);
  });

  test('namespace counters and malformed keys are not mistaken for entries', () => {
    expect(parsePartitionKey(namespaceGenerationPartitionKey('ns'))).toBeUndefined();
    expect(parsePartitionKey('ns#x#k:a')).toBeUndefined();
    expect(chunkSortKey('abc', 7)).toBe('c#abc#000007');
  });
});

describe('item codec', () => {
  test('TTL seconds round up so DynamoDB never deletes an entry before it expires', () => {
    expect(ttlSeconds(1_000)).toBe(1);
    expect(ttlSeconds(1_001)).toBe(2);
  });

  test('an inline entry decodes to the same fields', () => {
    expect(decodeEntryItem(entryItem('pk', entry))).toEqual({ kind: 'inline', entry: { ...entry, value: entry.value } });
  });

  test('an entry that never expires has no TTL attribute', () => {
    const item = entryItem('pk', { ...entry, expiresAt: null });
    expect(item.expiresAt).toBeUndefined();
    expect(decodeEntryItem(item)).toEqual(expect.objectContaining({ kind: 'inline', entry: expect.objectContaining({ expiresAt: null }) }));
  });

  test('a manifest names its chunk generation and count and carries no value', () => {
    const item = entryItem('pk', entry, { generation: 'g1', count: 3 });
    expect(item.v).toBeUndefined();
    const decoded = decodeEntryItem(item);
    expect(decoded).toEqual(expect.objectContaining({ kind: 'chunked', size: 3, chunks: { generation: 'g1', count: 3 } }));
  });

  test('items missing fields, or chunks, decode as invalid with a reason', () => {
    const item = entryItem('pk', entry);
    delete item.kid;
    expect(decodeEntryItem(item)).toEqual({ kind: 'invalid', reason: expect.stringContaining('missing') });
    expect(decodeEntryItem(chunkItem('pk', entry, 'g', 0, Buffer.from('a'), 0)).kind).toBe('invalid');
  });
});

describe('scan cursors', () => {
  test('round-trip LastEvaluatedKey with the segment', () => {
    const cursor = encodeScanCursor({ pk: { S: 'ns#0#k:a' }, sk: { S: 'v' } }, 2, 8);
    const position = decodeScanCursor(cursor);
    expect(position).toEqual({ lastKey: { pk: 'ns#0#k:a', sk: 'v' }, segment: 2, totalSegments: 8 });
    expect(cursorStartKey(position)).toEqual({ pk: { S: 'ns#0#k:a' }, sk: { S: 'v' } });
  });

  test.each(['', 'garbage', Buffer.from('{"v":2,"k":{}}').toString('base64url'), Buffer.from('{"v":1,"k":{"pk":1}}').toString('base64url')])(
    'reject a cursor the backend did not issue (%p)',
    (bad) => {
      expect(() => decodeScanCursor(bad)).toThrow(InvalidArgumentError);
    },
  );
});
