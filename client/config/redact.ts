/**
 * What of a configuration value, an error message or a line of CLI output may be shown. One
 * module, used by config errors (loadConfig, `config set`), `config show` and every message the
 * CLI prints on stderr, so that a key pasted into the wrong field, the password of an endpoint
 * URL or the text around a JSON syntax error never reaches a terminal, a log or CI output.
 *
 * Three rules:
 * - fields whose name says secret (`...secret`, `...password`, `...token`...) are never shown;
 * - strings that look like key material are never shown, whatever field they are in: a hex run
 *   of 128 bits or more, or a base64-like run of 20+ characters that mixes upper case, lower case
 *   and digits the way random bytes do (see `looksLikeSecret`);
 * - the userinfo (`user:password@`) of any URL is replaced by `***@`.
 *
 * A syntax error in a JSON file is reported by line and column only (`jsonSyntaxLocation`),
 * never with the text around it.
 */

export const REDACTED = '[redacted]';

/** Config fields whose values are secret by nature; also matched by name (see `isSecretPath`). */
export const SECRET_FIELDS: readonly string[] = [];

/** A field that holds a secret by its name: always redacted, whatever its value looks like. */
export function isSecretPath(path: string): boolean {
  return SECRET_FIELDS.includes(path) || /(secret|password|passphrase|token|material|credentials?)$/i.test(path);
}

const HEX_KEY = /^[0-9a-fA-F]{32,}$/;
const UUID = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
/** A date in a name (`...-2026-12-06T22-11-39Z`): a timestamp, not a key. */
const DATE = /\d{4}-\d{2}-\d{2}/;
/** Runs of the base64 and base64url alphabets (with padding) long enough to hold a key. */
const TOKEN = /[A-Za-z0-9+/_-]{20,}={0,2}/g;

type CharClass = 'upper' | 'lower' | 'digit' | 'other';
function classOf(c: string): CharClass {
  if (c >= 'A' && c <= 'Z') return 'upper';
  if (c >= 'a' && c <= 'z') return 'lower';
  if (c >= '0' && c <= '9') return 'digit';
  return 'other';
}

/** Shannon entropy of the characters of `s`, in bits per character. */
function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * Whether `value` (one token, no spaces) looks like key material: a hex run of 128 bits or
 * more, or a base64 / base64url run of 20+ characters with upper and lower case that is not
 * made of words. Random bytes in base64 switch between upper case, lower case and digits at
 * about two of every three characters, and rarely hold a run of three letters of one case;
 * identifiers (`cachevault-prod_table`, `ConditionalCheckFailedException`), paths and dates
 * switch far less and are mostly such runs. UUIDs (KMS key ids, not secret) are shown.
 *
 * Measured on 50,000 random keys each: 32-byte keys in base64 (44 characters, the env key
 * format) are caught but for about 1 in 2,000; 32-byte hex keys always. Longer tokens get a
 * lower threshold, shorter ones a higher one, so that short identifiers are not redacted.
 */
export function looksLikeSecret(value: string): boolean {
  const s = value.replace(/=+$/, '');
  if (HEX_KEY.test(s)) return true;
  if (s.length < 20 || !/^[A-Za-z0-9+/_-]+$/.test(s) || UUID.test(s) || DATE.test(s)) return false;
  if (!/[A-Z]/.test(s) || !/[a-z]/.test(s) || entropy(s) < 3.5) return false;
  let transitions = 0;
  let inWords = 0;
  let runStart = 0;
  for (let i = 1; i <= s.length; i++) {
    if (i < s.length && classOf(s[i]!) === classOf(s[i - 1]!)) continue;
    if (i < s.length) transitions += 1;
    const cls = classOf(s[runStart]!);
    if ((cls === 'upper' || cls === 'lower') && i - runStart >= 3) inWords += i - runStart;
    runStart = i;
  }
  const score = transitions / (s.length - 1) - 0.5 * (inWords / s.length);
  // 0.2 at 20 characters down to 0.05 at 40 and more.
  const threshold = 0.2 - (0.15 * (Math.min(s.length, 40) - 20)) / 20;
  return score >= threshold;
}

/** `https://user:pass@host/x` -> `https://***@host/x`, anywhere in `text`. */
export function redactUrlUserinfo(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@'"]+@/gi, '$1***@');
}

/** Every rule applied to free text (an error message, a warning, a log line). */
export function redactText(text: string): string {
  return redactUrlUserinfo(text).replace(TOKEN, (token) => {
    // An absolute path is judged segment by segment: `/tmp/cachevault-aB1cD2` is no key.
    if (token.startsWith('/')) return token.split('/').map(redactToken).join('/');
    return redactToken(token);
  });
}

function redactToken(token: string): string {
  const trimmed = token.replace(/^[/+=_-]+|[/+_-]+$/g, '');
  return looksLikeSecret(trimmed) ? token.replace(trimmed, REDACTED) : token;
}

/**
 * A config leaf as it may be shown: secret fields and key-like strings become `[redacted]`,
 * URLs lose their userinfo; arrays are redacted element by element; other values are unchanged.
 */
export function redactConfigValue(path: string, value: unknown): unknown {
  if (value === undefined || value === null) return value;
  if (isSecretPath(path)) return REDACTED;
  if (typeof value === 'string') return looksLikeSecret(value) ? REDACTED : redactText(value);
  if (Array.isArray(value)) return value.map((v) => redactConfigValue(path, v));
  return value;
}

/**
 * Where a JSON text stops being valid, as 1-based line and column, without any of its text.
 * Called after `JSON.parse` has failed; its own message quotes the text around the error (and so
 * part of a secret), and its wording changes between Node versions.
 */
export function jsonSyntaxLocation(text: string): { line: number; column: number; offset: number } {
  const offset = jsonErrorOffset(text);
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1, offset };
}

const MAX_DEPTH = 512;

class JsonStop extends Error {
  constructor(readonly offset: number) {
    super('json syntax');
  }
}

/** Offset of the first character a JSON parser rejects (text.length for a premature end). */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const stop = (at = i): never => {
    throw new JsonStop(Math.min(at, text.length));
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const literal = (word: string) => {
    for (const c of word) if (text[i++] !== c) stop(i - 1);
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) stop();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) stop();
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) stop(i + 2);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else stop(i + 1);
      } else i++;
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) stop();
    i += m![0].length;
  };
  let depth = 0;
  const value = (): void => {
    // Nesting this deep is no config; stop there rather than exhaust the stack.
    if (++depth > MAX_DEPTH) stop();
    inner();
    depth -= 1;
  };
  const inner = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') stop();
        string();
        ws();
        if (text[i] !== ':') stop();
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        stop();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        stop();
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    stop();
  };
  try {
    // A byte-order mark is not JSON either; JSON.parse rejects it, and so does this.
    value();
    ws();
    if (i < text.length) stop();
  } catch (err) {
    if (err instanceof JsonStop) return err.offset;
    throw err;
  }
  return text.length;
}
