/**
 * Text bound for the operator's terminal. Keys and values come from storage, which anyone who
 * can write the cache directory or the table controls: raw control characters in them would
 * reach the terminal (ESC sequences retitle the window, move the cursor, rewrite what the
 * operator saw; CR overwrites a line; BEL rings). Human output shows them as visible escapes
 * (`\x1b`, `\r`, `\u202e`); `--json` output stays ordinary JSON, with the same characters
 * written as `\u` escapes.
 */

/**
 * C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), Unicode line and
 * paragraph separators and the bidirectional overrides that reorder what is displayed.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same, plus tab and newline: for one cell or one quoted name, which must stay on its line. */
// eslint-disable-next-line no-control-regex -- as above
const UNSAFE_INLINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Escapes what a terminal would act on; newlines and tabs are kept (multi-line output). */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, escapeOne);
}

/** Escapes everything a terminal would act on, newlines and tabs included: one cell, one name. */
export function escapeInline(text: string): string {
  return text.replace(UNSAFE_INLINE, escapeOne);
}

/**
 * JSON with the characters JSON.stringify leaves raw (DEL, C1 controls, separators, bidi
 * overrides) written as `\u` escapes: the same document to a parser, inert on a terminal.
 */
export function escapeJsonText(json: string): string {
  return json.replace(/[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
