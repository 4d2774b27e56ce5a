import { Output, keyValues, table } from '../../client/cli/output';
import { escapeControl, escapeInline, escapeJsonText } from '../../client/cli/terminalText';

describe('text bound for the terminal', () => {
  test('escapeControl shows control characters as escapes and keeps newlines and tabs', () => {
    expect(escapeControl('a\u001b[2Jb\rc\u0007d\u009be\u202ef\n\tg\u007f')).toBe('a\\x1b[2Jb\\rc\\x07d\\x9be\\u202ef\n\tg\\x7f');
    expect(escapeControl('plain text, ünïcödé and emoji 🙂')).toBe('plain text, ünïcödé and emoji 🙂');
  });

  test('escapeInline also escapes newlines and tabs, so a cell cannot forge a line', () => {
    expect(escapeInline('k\nFAKE ROW\t1')).toBe('k\\nFAKE ROW\\t1');
    expect(table([{ key: 'a\nb' }])).toBe('KEY\na\\nb');
    expect(keyValues({ stored: 'x\r\u001b]0;t\u0007' })).toBe('stored: x\\r\\x1b]0;t\\x07');
  });

  test('escapeJsonText leaves a document that parses to the same value', () => {
    const value = { v: 'a\u009b31m\u202e\u2028\u007f\u001b' };
    const text = escapeJsonText(JSON.stringify(value));
    // eslint-disable-next-line no-control-regex -- the point of the test
    expect(text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u202e]/);
    expect(JSON.parse(text)).toEqual(value);
  });

  test('Output escapes results, and redacts and escapes warnings and notes', () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s), isTTY: false, env: {}, cwd: '/' };
    const human = new Output(io, false);
    human.result({ v: 'x\u001b[31m' }, (d) => d.v);
    human.warn('bad endpoint http://u:secretpw@h:1 \u001b[2J');
    human.note(`key ${'0123456789abcdef'.repeat(4)}`);
    expect(out).toEqual(['x\\x1b[31m\n']);
    expect(err).toEqual(['warning: bad endpoint http://***@h:1 \\x1b[2J\n', 'key [redacted]\n']);
  });
});
