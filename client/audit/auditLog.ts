import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, readSync, fstatSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { hostname } from 'node:os';
import { CacheVaultError } from '../errors';
import { withLockFileSync } from '../fs/lockFile';
import type { Clock } from '../types';

/**
 * An append-only, hash-chained audit log of security operations, as JSON lines. Each record
 * carries the SHA-256 of the previous line, so editing, inserting or deleting a line breaks the
 * chain at a place `verify()` names. (Cutting lines off the end leaves a valid shorter chain, an
 * edit of the last line has no successor to break, and the chain has no key, so whoever rewrites
 * every line after an edit goes undetected: ship the log off the machine if that matters.)
 * Records hold ids, names and counts only:
 * `details` accepts no Buffers, and key-material field names are refused.
 */

export const AuditEvent = {
  keyGenerated: 'key.generated',
  keyRotated: 'key.rotated',
  keyRetired: 'key.retired',
  keysExported: 'keys.exported',
  keysImported: 'keys.imported',
  encryptionEnabled: 'encryption.enabled',
  encryptionDisabled: 'encryption.disabled',
  fallbackTaken: 'key-provider.fallback',
} as const;
export type AuditEvent = (typeof AuditEvent)[keyof typeof AuditEvent];

export type AuditDetails = Readonly<Record<string, string | number | boolean | readonly string[]>>;

export interface AuditRecord {
  /** 1-based position in the log. */
  readonly seq: number;
  /** ISO-8601. */
  readonly time: string;
  readonly event: AuditEvent;
  readonly host: string;
  readonly pid: number;
  readonly details: AuditDetails;
  /** SHA-256 (hex) of the previous line's bytes; 64 zeros for the first record. */
  readonly prev: string;
}

export type AuditVerification =
  | { readonly ok: true; readonly records: number }
  | { readonly ok: false; readonly records: number; readonly line: number; readonly problem: string };

/** Where security events go; `AuditLog` writes a file, tests may collect in memory. */
export interface AuditSink {
  append(event: AuditEvent, details?: AuditDetails): void;
}

export interface AuditLogOptions {
  readonly path: string;
  /** @default Date.now */
  readonly clock?: Clock;
  /** How long to wait for another process's append lock. @default 2000 */
  readonly lockTimeoutMs?: number;
}

export class AuditLogError extends CacheVaultError {
  override readonly code = 'AUDIT_LOG_FAILED';
  constructor(message: string, options: ConstructorParameters<typeof CacheVaultError>[1] = {}) {
    super(message, options);
    this.name = 'AuditLogError';
  }
}

const GENESIS = '0'.repeat(64);
const FORBIDDEN_FIELDS = /^(plaintext|material|dataKey|key|secret|passphrase|password|rootKey)$/i;
const TAIL_BYTES = 64 * 1024;
const STALE_LOCK_MS = 10_000;

export class AuditLog implements AuditSink {
  readonly path: string;
  private readonly clock: Clock;
  private readonly lockTimeoutMs: number;

  constructor(options: AuditLogOptions) {
    this.path = resolve(options.path);
    this.clock = options.clock ?? Date.now;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 2_000;
  }

  /**
   * Appends one record. Reading the last line and appending happen under a lock file, so two
   * processes never chain onto the same predecessor; the append itself is one `O_APPEND` write
   * of a whole line, so lines never interleave.
   */
  append(event: AuditEvent, details: AuditDetails = {}): void {
    for (const [field, value] of Object.entries(details)) {
      if (FORBIDDEN_FIELDS.test(field)) throw new AuditLogError(`Refusing to write the field "${field}" to the audit log: it may hold key material.`);
      // The type allows no Buffers, but untyped callers can pass one: JSON would write its bytes.
      if (!isPlainDetail(value)) {
        throw new AuditLogError(`Refusing to write the field "${field}" to the audit log: only strings, numbers, booleans and string arrays are recorded.`);
      }
    }
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    this.withLock(() => {
      const last = lastLine(this.path);
      const seq = last === undefined ? 1 : sequenceOf(last) + 1;
      const record: AuditRecord = {
        seq,
        time: new Date(this.clock()).toISOString(),
        event,
        host: hostname(),
        pid: process.pid,
        details,
        prev: last === undefined ? GENESIS : sha256(last),
      };
      appendFileSync(this.path, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    });
  }

  /** Reads every record (for `audit report`); does not verify. */
  records(): AuditRecord[] {
    return readLines(this.path).map((line) => JSON.parse(line) as AuditRecord);
  }

  /** Walks the chain; reports the first line (1-based) that was edited, inserted or follows a deletion. */
  verify(): AuditVerification {
    const lines = readLines(this.path);
    let prev = GENESIS;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      let record: AuditRecord;
      try {
        record = JSON.parse(line) as AuditRecord;
      } catch {
        return { ok: false, records: lines.length, line: i + 1, problem: 'not valid JSON (edited or truncated)' };
      }
      if (typeof record !== 'object' || record === null) {
        return { ok: false, records: lines.length, line: i + 1, problem: 'valid JSON but not an audit record (edited)' };
      }
      if (record.prev !== prev) {
        return {
          ok: false,
          records: lines.length,
          line: i + 1,
          problem:
            i === 0
              ? 'the first line does not start the chain (lines were deleted from the start)'
              : `its predecessor hash does not match line ${i}: line ${i} was edited, or a line was inserted or deleted before line ${i + 1}`,
        };
      }
      if (record.seq !== i + 1) {
        return { ok: false, records: lines.length, line: i + 1, problem: `sequence number ${record.seq} where ${i + 1} was expected (lines were inserted or deleted)` };
      }
      prev = sha256(line);
    }
    return { ok: true, records: lines.length };
  }

  private withLock(fn: () => void): void {
    const lock = `${this.path}.lock`;
    withLockFileSync(
      lock,
      {
        staleMs: STALE_LOCK_MS,
        timeoutMs: this.lockTimeoutMs,
        onError: (error) => new AuditLogError(`Could not lock the audit log ${this.path}: ${(error as Error).message}`, { cause: error }),
        onTimeout: () =>
          new AuditLogError(`Timed out waiting for the audit log lock ${lock}.`, {
            hint: 'Another process holds it; if none is running, delete the .lock file.',
          }),
      },
      fn,
    );
  }
}

/** Verifies the audit log at `path` (for the CLI's `audit verify`). */
export function verifyAuditLog(path: string): AuditVerification {
  return new AuditLog({ path }).verify();
}

function isPlainDetail(value: unknown): boolean {
  const t = typeof value;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function sha256(line: string): string {
  return createHash('sha256').update(line, 'utf8').digest('hex');
}

function sequenceOf(line: string): number {
  try {
    const seq = (JSON.parse(line) as { seq?: unknown }).seq;
    return typeof seq === 'number' ? seq : 0;
  } catch {
    // A damaged last line still gets chained onto (by hash); verify() reports it.
    return 0;
  }
}

function readLines(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new AuditLogError(`Could not read the audit log ${path}: ${(error as Error).message}`, { cause: error });
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The last complete line, reading only the file's tail. */
function lastLine(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return undefined;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8').replace(/\n$/, '');
    const start = text.lastIndexOf('\n');
    if (start === -1 && length < size) throw new AuditLogError(`The last line of the audit log ${path} is longer than ${TAIL_BYTES} bytes.`);
    return text.slice(start + 1);
  } finally {
    closeSync(fd);
  }
}
