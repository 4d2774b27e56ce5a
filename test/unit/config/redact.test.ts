import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { jsonSyntaxLocation, looksLikeSecret, redactConfigValue, redactText, redactUrlUserinfo } from '../../../client/config/redact';

describe('redaction', () => {
  test('keys in the formats cachevault and AWS use look like secrets', () => {
    let missed = 0;
    for (let i = 0; i < 2_000; i++) {
      if (!looksLikeSecret(randomBytes(32).toString('base64'))) missed += 1;
      if (!looksLikeSecret(randomBytes(32).toString('hex'))) missed += 1;
    }
    // Measured: about 1 in 2,000 base64 keys reads as made of words; hex keys are always caught.
    expect(missed).toBeLessThanOrEqual(8);
    expect(looksLikeSecret('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'.replace('EXAMPLEKEY', 'q9Z3xR7v2B'))).toBe(true);
  });

  test('names, paths, dates and KMS key ids do not', () => {
    for (const s of [
      'cachevault-prod_table',
      'ConditionalCheckFailedException',
      'aVeryLongCamelCaseIdentifierName',
      'CACHEVAULT_KEYS_MANIFEST_PATH',
      `arn:aws:kms:us-east-1:111122223333:key/${randomUUID()}`,
      'default-before-enable-2026-12-06T22-11-39-123Z',
      '/home/runner/work/MyRepo2/MyRepo2/.cachevault/cache',
    ]) {
      expect([s, looksLikeSecret(s)]).toEqual([s, false]);
      expect(redactText(`at ${s}.`)).toBe(`at ${s}.`);
    }
  });

  test('free text loses keys and URL passwords, and keeps the rest', () => {
    // A fixed key: about 1 random base64 key in 2,000 reads as words (measured above), which
    // would make this test fail at random.
    const key = createHash('sha256').update('redact-test-key').digest('base64');
    expect(looksLikeSecret(key)).toBe(true);
    expect(redactText(`key=${key}; see https://bob:hunter2@db.example.com/x`)).toBe('key=[redacted]; see https://***@db.example.com/x');
    expect(redactUrlUserinfo('http://127.0.0.1:8000')).toBe('http://127.0.0.1:8000');
  });

  test('config values: secret fields by name, key-like strings by look, arrays element by element', () => {
    expect(redactConfigValue('keys.passphrase', 'short')).toBe('[redacted]');
    expect(redactConfigValue('dynamodb.endpoint', 'http://u:p@h:1')).toBe('http://***@h:1');
    expect(redactConfigValue('keys.providers', ['env', randomBytes(32).toString('hex')])).toEqual(['env', '[redacted]']);
    expect(redactConfigValue('memory.maxEntries', 5)).toBe(5);
  });

  test('a JSON syntax error is located by line and column, for every kind of error', () => {
    const cases: [string, number, number][] = [
      ['{ "a": 1, }', 1, 11],
      ['{\n  "a": "b" x\n}', 2, 12],
      ['{"a": "unterminated', 1, 20],
      ['{"a": tru}', 1, 10],
      ['[1, 2] 3', 1, 8],
      ['{"a": "\\q"}', 1, 9],
      ['', 1, 1],
    ];
    for (const [text, line, column] of cases) {
      expect(() => JSON.parse(text)).toThrow();
      expect([text, jsonSyntaxLocation(text)]).toEqual([text, expect.objectContaining({ line, column })]);
    }
  });
});
