import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { decodeEntryItem, entryItem, ITEM_FORMAT_VERSION, type Item } from '../../client/dynamodb/itemCodec';

const FIXTURES = resolve(__dirname, '../fixtures/dynamodb');

/** A fixture file's items, with base64 binaries turned back into bytes. */
function load(name: string): Record<'inline' | 'chunked', Item> {
  const raw = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<'inline' | 'chunked', Record<string, { S?: string; N?: string; B?: string }>>;
  const decode = (item: Record<string, { S?: string; N?: string; B?: string }>): Item =>
    Object.fromEntries(Object.entries(item).map(([k, v]) => [k, (v.B !== undefined ? { B: new Uint8Array(Buffer.from(v.B, 'base64')) } : v) as AttributeValue]));
  return { inline: decode(raw.inline), chunked: decode(raw.chunked) };
}

const entry = { namespace: 'fixture', key: 'inline', keyId: 'k1', createdAt: 1_765_000_000_000, expiresAt: 4_102_444_800_000 };
const text = 'sealed bytes, item format 1';

describe('DynamoDB entry item formats', () => {
  test.each(['entry-items-format-1-unversioned.json', 'entry-items-format-1.json'])('%s decodes with every field intact', (file) => {
    const items = load(file);
    const inline = decodeEntryItem(items.inline);
    expect(inline.kind).toBe('inline');
    if (inline.kind !== 'inline') return;
    expect({ ...inline.entry, value: Buffer.from(inline.entry.value).toString() }).toEqual({ ...entry, value: text });
    expect(decodeEntryItem(items.chunked)).toEqual({
      kind: 'chunked',
      meta: { ...entry, key: 'chunked', expiresAt: null },
      size: text.length,
      chunks: { generation: 'g0123456789abcdef', count: 3 },
    });
  });

  test('the current code writes exactly the newest fixture, version attribute included', () => {
    expect(ITEM_FORMAT_VERSION).toBe(1);
    const items = load('entry-items-format-1.json');
    const value = new Uint8Array(Buffer.from(text));
    expect(entryItem('fixture#0#k:inline', { ...entry, value })).toEqual(items.inline);
    expect(entryItem('fixture#0#k:chunked', { ...entry, key: 'chunked', expiresAt: null, value }, { generation: 'g0123456789abcdef', count: 3 })).toEqual(items.chunked);
  });

  test('an item of a newer format is a miss whose reason says to upgrade, never a misread', () => {
    const item = { ...load('entry-items-format-1.json').inline, fv: { N: String(ITEM_FORMAT_VERSION + 1) } };
    expect(decodeEntryItem(item)).toEqual({ kind: 'invalid', reason: expect.stringMatching(/format 2 is newer.*upgrade cachevault/) });
    expect(decodeEntryItem({ ...item, fv: { N: 'x' } })).toEqual({ kind: 'invalid', reason: expect.stringContaining('bad format version') });
  });
});
