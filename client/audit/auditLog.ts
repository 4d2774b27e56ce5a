import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { hostname } from 'node:os';
import { CacheVaultError } from '../errors';
import { withLockFileSync } from '../fs/lockFile';
import { silentLogger } from '../logger';
import type { Clock, Logger } from '../types';

/**
 * An append-only audit log of security operations, as JSON lines, whose chain is keyed.
 *
 * Each record carries the SHA-256 of the previous line (`prev`) and an HMAC-SHA-256 (`mac`) over
 * its own bytes under an audit key from the key hierarchy (`kid` names it; see auditKeys.ts),
 * which is never stored beside the log. So:
 * - an edited, inserted or deleted line breaks the hash chain or its MAC at a place `verify()` names;
 * - a forged line appended at the end has no valid MAC: whoever can write the log but does not
 *   hold the key cannot extend it;
 * - one verified MAC vouches for every line before it through the hash chain, so lines whose
 *   own key is gone (a retired data key) or that were written while no key was available stay
 *   authenticated once a later keyed line exists.
 * What a MAC cannot show is a cut: lines removed from the end leave a valid shorter chain, and a
 * deleted log leaves nothing. For that the head (`seq` + `mac` of a record) is anchored where a
 * writer of the log cannot reach it, the MAC-covered key manifest (`AuditAnchor`), after every
 * key-lifecycle event and on `close()`; `verify()` then refuses a log shorter than the anchor,
 * one whose anchored record differs, and a missing log. Records after the anchored head are
 * reported as unanchored: chained and MACed, but a cut back to the anchor would go unnoticed.
 *
 * Records hold ids, names and counts only: `details` accepts no Buffers, and key-material field
 * names are refused. Logs written before keying (no `v` field) are still read and reported as
 * `legacy`, never as verified.
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
  /** First record of a log whose earlier records were moved to an archive file (`archive()`). */
  logArchived: 'audit.archived',
} as const;
export type AuditEvent = (typeof AuditEvent)[keyof typeof AuditEvent];

/** Events after which the head is anchored at once (rare, and the ones an intruder would hide). */
const LIFECYCLE_EVENTS: ReadonlySet<string> = new Set<AuditEvent>([
  AuditEvent.keyGenerated,
  AuditEvent.keyRotated,
  AuditEvent.keyRetired,
  AuditEvent.keysExported,
  AuditEvent.keysImported,
  AuditEvent.encryptionEnabled,
  AuditEvent.encryptionDisabled,
  AuditEvent.logArchived,
]);

export type AuditDetails = Readonly<Record<string, string | number | boolean | readonly string[]>>;

export interface AuditRecord {
  /** Record format: 2 (keyed). Absent in legacy records. */
  readonly v?: 2;
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
  /** Which audit key made `mac` (`kN`, or `root:<id>`); null when no key was available. */
  readonly kid?: string | null;
  /** HMAC-SHA-256 (hex) of the line without this field; null when no key was available. */
  readonly mac?: string | null;
}

/** An audit MAC key. The AuditLog zeroes `key` when done with it. */
export interface AuditMacKey {
  /** Recorded in each line as `kid`; public. */
  readonly id: string;
  readonly key: Buffer;
}

/** Where the audit MAC keys come from (see auditKeys.ts for the KeyManager-backed one). */
export interface AuditKeySource {
  /** The key for new records; undefined when none can be had now (the record is written unkeyed). */
  current(): Promise<AuditMacKey | undefined>;
  /** The key a record names, for `verify()`; undefined when it is gone or not this client's. */
  byId(id: string): Promise<AuditMacKey | undefined>;
}

/** The log's head: a record's sequence number and MAC. */
export interface AuditHead {
  readonly seq: number;
  readonly mac: string;
}

/** Keeps the head where a writer of the log cannot change it (the key manifest). */
export interface AuditAnchor {
  read(): Promise<AuditHead | undefined>;
  /** Moves the anchor forward; may refuse a head behind the anchored one. */
  write(head: AuditHead): Promise<void>;
}

export type AuditStatus =
  /** Every record authenticated by a MAC this client checked; the anchor (if any) matches. */
  | 'verified'
  /** No log and nothing says there should be one. */
  | 'empty'
  /** An edit, insertion, deletion, forged line, cut before the anchor, or deletion of an anchored log. */
  | 'broken'
  /** Keys exist but there is no log (deleted, or audit was off when they were made). */
  | 'missing'
  /** The chain holds, but the last records carry no MAC this client can check. */
  | 'unauthenticated'
  /** Keyed-format records, none of them with a MAC (no keys here: an unencrypted cache). */
  | 'unkeyed'
  /** Only records from before keyed auditing: a plain hash chain that anyone could rewrite. */
  | 'legacy';

export interface AuditVerification {
  /** True only when `status` is `verified` or `empty`. */
  readonly ok: boolean;
  readonly status: AuditStatus;
  readonly records: number;
  /** The first line (1-based) at fault, for `broken` and `unauthenticated`. */
  readonly line?: number;
  readonly problem?: string;
  /** Records whose own MAC this client verified. */
  readonly macVerified: number;
  /** Records in the legacy (unkeyed) format at the start of the log. */
  readonly legacyRecords: number;
  /** The anchored head's sequence number, when there is an anchor. */
  readonly anchoredSeq: number | null;
  /** Records after the anchored head (all of them when there is no anchor). */
  readonly unanchored: number;
  /** What the result does and does not prove, in words. */
  readonly notes: readonly string[];
}

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
  /** Audit MAC keys; without them records are written unkeyed (see `attach`). */
  readonly keys?: AuditKeySource;
  /** Where the head is anchored; without it cuts and deletion cannot be detected. */
  readonly anchor?: AuditAnchor;
  readonly logger?: Logger;
}

export class AuditLogError extends CacheVaultError {
  override name = 'AuditLogError';
  override readonly code = 'AUDIT_LOG_FAILED';
}

const FORMAT = 2;
const GENESIS = '0'.repeat(64);
const MAC_DOMAIN = 'cachevault audit record v2\n';
const FORBIDDEN_FIELDS = /^(plaintext|material|dataKey|key|secret|passphrase|password|rootKey)$/i;
const TAIL_BYTES = 64 * 1024;
const STALE_LOCK_MS = 10_000;
/** Every keyed-format line ends with its MAC field, so the MACed bytes are the line without it. */
const MAC_SUFFIX = /,"mac":(null|"[0-9a-f]{64}")\}$/;
const KEYED_FIELDS = ['v', 'seq', 'time', 'event', 'host', 'pid', 'details', 'prev', 'kid'];

/** O_NOFOLLOW: a symlink planted at the log's path is refused, never followed. O_NONBLOCK: a FIFO there cannot hang us. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const APPEND_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export class AuditLog implements AuditSink {
  readonly path: string;
  private readonly clock: Clock;
  private readonly lockTimeoutMs: number;
  private logger: Logger;
  private keys: AuditKeySource | undefined;
  private anchor: AuditAnchor | undefined;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private failures: Error[] = [];
  /** The newest record this process wrote with a MAC, and the highest seq it anchored. */
  private lastKeyed: AuditHead | undefined;
  /** The file at `path` was seen to begin with an audit record (checked once, before the first append). */
  private isOurs = false;
  private anchoredSeq = 0;

  constructor(options: AuditLogOptions) {
    this.path = resolve(options.path);
    this.clock = options.clock ?? Date.now;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 2_000;
    this.keys = options.keys;
    this.anchor = options.anchor;
    this.logger = options.logger ?? silentLogger;
    // A foreign file is refused before the cache is built, not at the first (queued) append. A
    // link or a non-file at the path is refused by every later open, so it is not judged here.
    let existing: string | undefined;
    try {
      existing = lastLine(this.path);
    } catch {
      existing = undefined;
    }
    if (existing !== undefined) this.refuseForeignFile();
  }

  /**
   * Supplies the key source and anchor once they exist (the KeyManager is built after the log,
   * since it writes to it). Records appended before are unkeyed.
   */
  attach(parts: { keys?: AuditKeySource; anchor?: AuditAnchor; logger?: Logger }): void {
    if (parts.keys) this.keys = parts.keys;
    if (parts.anchor) this.anchor = parts.anchor;
    if (parts.logger) this.logger = parts.logger;
  }

  /**
   * Appends one record. Bad details throw at once. Without a key source the line is written
   * before this returns; with one, getting the key is asynchronous, so the record is queued in
   * order and written shortly after: `flush()` or `close()` waits for it (and reports a failure).
   * Reading the last line and appending happen under a lock file, so two processes never chain
   * onto the same predecessor; the append is one `O_APPEND` write of a whole line.
   */
  append(event: AuditEvent, details: AuditDetails = {}): void {
    checkDetails(details);
    const time = this.clock();
    if (!this.keys && this.queued === 0) {
      this.writeRecord(event, details, time, undefined);
      return;
    }
    this.queued += 1;
    this.queue = this.queue
      .then(() => this.writeQueued(event, details, time))
      .finally(() => {
        this.queued -= 1;
      });
  }

  /** Waits for queued records; throws the first failure since the last flush. */
  async flush(): Promise<void> {
    await this.queue;
    const failures = this.failures.splice(0);
    if (failures.length > 0) throw failures[0];
  }

  /**
   * Writes what is queued and anchors the newest keyed record this process wrote, if the anchor
   * is behind it. Call before the key source closes (createCache's `close()` does).
   */
  async close(): Promise<void> {
    await this.queue;
    if (this.lastKeyed && this.lastKeyed.seq > this.anchoredSeq) await this.anchorHead(this.lastKeyed);
    await this.flush();
  }

  /** Reads every record (for `audit report`); does not verify. */
  records(): AuditRecord[] {
    return (readLines(this.path) ?? []).map((line) => JSON.parse(line) as AuditRecord);
  }

  /**
   * Walks the chain, checks every MAC it has a key for, and compares the anchored head.
   * `keysExist`: the deployment has key versions, so a missing log is itself a finding.
   */
  async verify(options: { keysExist?: boolean } = {}): Promise<AuditVerification> {
    const anchored = this.anchor ? await this.anchor.read() : undefined;
    const lines = readLines(this.path);
    const base = { macVerified: 0, legacyRecords: 0, anchoredSeq: anchored?.seq ?? null };
    const anchorNote = anchored
      ? []
      : ['No anchored head: records cut off the end, or the whole log deleted, would not be detected (the anchor lives in a local key manifest; see docs/security.md).'];
    if (!lines || lines.length === 0) {
      const what = lines ? 'empty' : 'missing';
      if (anchored && anchored.seq > 0) {
        return { ...base, ok: false, status: 'broken', records: 0, line: 1, unanchored: 0, problem: `the audit log is ${what}, but the key manifest anchors record ${anchored.seq}: it was deleted or emptied`, notes: [] };
      }
      if (options.keysExist) {
        return { ...base, ok: false, status: 'missing', records: 0, unanchored: 0, problem: `the audit log is ${what}, but key versions exist: it was deleted, or auditing was off when they were made`, notes: anchorNote };
      }
      return { ...base, ok: true, status: 'empty', records: 0, unanchored: 0, notes: ['Nothing has been audited yet.'] };
    }

    // A log that continues an archived one starts with a keyed `audit.archived` record carrying
    // the next sequence number and the hash of the archive's last line; its MAC (or a later one)
    // is what makes that start acceptable.
    const first = parseLine(lines[0]!);
    const continues = typeof first !== 'string' && first.record.v !== undefined && first.record.event === AuditEvent.logArchived && Number.isSafeInteger(first.record.seq) && first.record.seq > 1;
    const offset = continues ? first.record.seq - 1 : 0;
    const lastSeq = offset + lines.length;
    const keys = new Map<string, Buffer | undefined>();
    try {
      let prev = continues ? first.record.prev : GENESIS;
      let legacy = 0;
      let keyed = false;
      let macVerified = 0;
      let lastAuthenticated = 0;
      const macs: (string | null)[] = [];
      const broken = (line: number, problem: string): AuditVerification => ({
        ...base,
        ok: false,
        status: 'broken',
        records: lines.length,
        line,
        problem,
        macVerified,
        legacyRecords: legacy,
        unanchored: Math.max(0, lastSeq - (anchored?.seq ?? 0)),
        notes: [],
      });
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        const n = i + 1;
        const parsed = parseLine(line);
        if (typeof parsed === 'string') return broken(n, parsed);
        const { record, body, mac } = parsed;
        if (record.v === undefined) {
          if (keyed) return broken(n, 'a record in the old unkeyed format after keyed ones: it was inserted');
          legacy += 1;
        } else {
          keyed = true;
        }
        if (record.prev !== prev) {
          return broken(
            n,
            i === 0
              ? 'the first line does not start the chain (lines were deleted from the start)'
              : `its predecessor hash does not match line ${i}: line ${i} was edited, or a line was inserted or deleted before line ${n}`,
          );
        }
        if (record.seq !== offset + n) return broken(n, `sequence number ${String(record.seq)} where ${offset + n} was expected (lines were inserted or deleted)`);
        macs.push(mac);
        if (record.v !== undefined && mac !== null && typeof record.kid === 'string') {
          if (!keys.has(record.kid)) keys.set(record.kid, await this.keyFor(record.kid));
          const key = keys.get(record.kid);
          if (key) {
            if (!macMatches(key, body, mac)) return broken(n, `its MAC does not verify under audit key ${record.kid}: the line was edited or forged`);
            macVerified += 1;
            lastAuthenticated = n;
          }
        }
        prev = sha256(line);
      }
      const result = { ...base, records: lines.length, macVerified, legacyRecords: legacy, unanchored: Math.max(0, lastSeq - (anchored?.seq ?? 0)) };
      if (anchored) {
        if (lastSeq < anchored.seq) {
          return broken(lines.length, `the log ends at record ${lastSeq}, but the key manifest anchors record ${anchored.seq}: records were cut off the end, or the log was replaced`);
        }
        if (anchored.seq > 0 && anchored.seq <= offset) {
          return broken(1, `the key manifest anchors record ${anchored.seq}, which is in the archived part, not this log: the log was replaced, or anchoring failed when it was archived`);
        }
        if (anchored.seq > 0 && macs[anchored.seq - offset - 1] !== anchored.mac) {
          return broken(anchored.seq - offset, `record ${anchored.seq} is not the one anchored in the key manifest: the log was rewritten from there`);
        }
      }
      const notes = [...anchorNote];
      if (continues) notes.push(`Records 1-${offset} were archived (${String(first.record.details.archive ?? 'archive')}); this log continues the chain from record ${offset + 1}.`);
      if (legacy > 0 && keyed) notes.push(`Records 1-${legacy} predate keyed auditing; the MAC of a later record vouches that they existed unaltered when it was written, not before.`);
      if (anchored && result.unanchored > 0) notes.push(`Records ${anchored.seq + 1}-${lastSeq} are after the anchored head: chained and MACed, but cutting them off would go unnoticed until the next anchor.`);
      if (!keyed) {
        return { ...result, ok: false, status: 'legacy', problem: 'the log predates keyed auditing: its hash chain has no key, so whoever can write the file could have rewritten it', notes };
      }
      if (lastAuthenticated === 0) {
        return { ...result, ok: false, status: 'unkeyed', line: 1, problem: 'no record carries a MAC this client can check (written without audit keys: is encryption off, or are the keys unavailable here?)', notes };
      }
      if (lastAuthenticated < lines.length) {
        return {
          ...result,
          ok: false,
          status: 'unauthenticated',
          line: lastAuthenticated + 1,
          problem: `lines ${lastAuthenticated + 1}-${lines.length} carry no MAC this client can check: written while no audit key was available, under a key since lost, or forged`,
          notes,
        };
      }
      return { ...result, ok: true, status: 'verified', notes };
    } finally {
      for (const key of keys.values()) key?.fill(0);
    }
  }

  private async keyFor(id: string): Promise<Buffer | undefined> {
    if (!this.keys) return undefined;
    try {
      const found = await this.keys.byId(id);
      if (!found) return undefined;
      if (found.id === id) return found.key;
      found.key.fill(0);
      return undefined;
    } catch (error) {
      this.logger.debug({ kid: id, error: (error as Error).message }, 'audit key unavailable for verification');
      return undefined;
    }
  }

  private async writeQueued(event: AuditEvent, details: AuditDetails, time: number): Promise<void> {
    let key: AuditMacKey | undefined;
    try {
      key = await this.keys?.current();
    } catch (error) {
      this.logger.warn({ event, error: (error as Error).message }, 'no audit key available; writing the audit record without a MAC');
    }
    try {
      const head = this.writeRecord(event, details, time, key);
      if (head) {
        this.lastKeyed = head;
        if (LIFECYCLE_EVENTS.has(event)) await this.anchorHead(head);
      }
    } catch (error) {
      this.failures.push(error instanceof Error ? error : new Error(String(error)));
      this.logger.warn({ event, error: (error as Error).message }, 'could not write the audit record');
    } finally {
      key?.key.fill(0);
    }
  }

  /**
   * Moves every record to an archive file beside the log (`<log>.<time>.archived`, kept 0600)
   * and starts the log again with one keyed `audit.archived` record that continues the chain
   * (next sequence number, hash of the archive's last line), then anchors it. Needs the audit
   * keys: an unkeyed continuation would be indistinguishable from a forged start.
   */
  async archive(): Promise<{ archive: string; records: number } | undefined> {
    await this.queue;
    const key = await this.keys?.current();
    if (!key) {
      throw new AuditLogError('The audit log can only be archived with an audit key at hand.', {
        hint: 'Run it where the cache\'s keys are available (encryption enabled, the root key or KMS reachable).',
      });
    }
    let done: { archive: string; records: number; head: AuditHead | undefined } | undefined;
    try {
      done = this.withLock(() => {
        const last = lastLine(this.path);
        if (last === undefined) return undefined;
        const records = sequenceOf(last);
        const archive = `${this.path}.${new Date(this.clock()).toISOString().replace(/[:.]/g, '-')}.archived`;
        renameSync(this.path, archive);
        const head = this.appendLine(AuditEvent.logArchived, { archive: basename(archive), records }, this.clock(), key, { seq: records + 1, prev: sha256(last) });
        return { archive, records, head };
      });
    } finally {
      key.key.fill(0);
    }
    if (!done) return undefined;
    if (done.head) {
      this.lastKeyed = done.head;
      await this.anchorHead(done.head);
    }
    await this.flush();
    return { archive: done.archive, records: done.records };
  }

  /** Writes one line under the lock; returns its head when it carries a MAC. */
  private writeRecord(event: AuditEvent, details: AuditDetails, time: number, key: AuditMacKey | undefined): AuditHead | undefined {
    // Owner-only whatever the umask allows: mkdir's mode is only ever narrowed by it.
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    return this.withLock(() => {
      const last = lastLine(this.path);
      if (last !== undefined && !this.isOurs) this.refuseForeignFile();
      return this.appendLine(event, details, time, key, last === undefined ? { seq: 1, prev: GENESIS } : { seq: sequenceOf(last) + 1, prev: sha256(last) });
    });
  }

  /**
   * audit.path comes from configuration: a file already there that does not begin with an audit
   * record (a typo, or /etc/passwd for a process running as root) is refused, never appended to.
   * The first line decides, so a last line torn by a crash mid-append does not.
   */
  private refuseForeignFile(): void {
    const first = firstLine(this.path);
    let record: unknown;
    try {
      record = first === undefined ? undefined : JSON.parse(first);
    } catch {
      record = undefined;
    }
    const r = record as { seq?: unknown; event?: unknown; time?: unknown } | undefined;
    if (r === null || typeof r !== 'object' || typeof r.seq !== 'number' || typeof r.event !== 'string' || typeof r.time !== 'string') {
      throw new AuditLogError(`${this.path} is not a cachevault audit log (its first line is not an audit record); refusing to append to it.`, {
        hint: 'Point audit.path at a new file, or at an existing cachevault audit log. Nothing was written.',
      });
    }
    this.isOurs = true;
  }

  /** Appends one line at `position` (the caller holds the lock); returns its head when it carries a MAC. */
  private appendLine(event: AuditEvent, details: AuditDetails, time: number, key: AuditMacKey | undefined, position: { seq: number; prev: string }): AuditHead | undefined {
    const { seq, prev } = position;
    const record = {
      v: FORMAT,
      seq,
      time: new Date(time).toISOString(),
      event,
      host: hostname(),
      pid: process.pid,
      details,
      prev,
      kid: key?.id ?? null,
    };
    const body = JSON.stringify(record);
    const mac = key ? createHmac('sha256', key.key).update(MAC_DOMAIN).update(body, 'utf8').digest('hex') : null;
    const line = `${body.slice(0, -1)},"mac":${JSON.stringify(mac)}}\n`;
    const fd = openLog(this.path, APPEND_FLAGS);
    try {
      writeSync(fd, line);
    } finally {
      closeSync(fd);
    }
    return mac === null ? undefined : { seq, mac };
  }

  private async anchorHead(head: AuditHead): Promise<void> {
    if (!this.anchor || head.seq <= this.anchoredSeq) return;
    try {
      await this.anchor.write(head);
      this.anchoredSeq = head.seq;
    } catch (error) {
      // Another process may have anchored a later record of this same log meanwhile: that covers
      // ours. (An anchor beyond the end of the log, or naming another record, is a cut log.)
      const now = await this.anchor.read().catch(() => undefined);
      if (now && now.seq >= head.seq && this.macAt(now.seq) === now.mac) {
        this.anchoredSeq = head.seq;
        return;
      }
      this.failures.push(
        new AuditLogError(`Could not anchor the audit log's head (record ${head.seq}) in the key manifest: ${(error as Error).message}`, {
          cause: error,
          hint: 'Run `cachevault audit verify`: a refused anchor usually means the log was cut or replaced.',
        }),
      );
      this.logger.warn({ seq: head.seq, error: (error as Error).message }, 'could not anchor the audit log head');
    }
  }

  /** The MAC of record `seq` as the log holds it now, if there is such a keyed record. */
  private macAt(seq: number): string | null | undefined {
    const line = readLines(this.path)?.[seq - 1];
    if (line === undefined) return undefined;
    const parsed = parseLine(line);
    return typeof parsed === 'string' ? undefined : parsed.mac;
  }

  private withLock<T>(fn: () => T): T {
    const lock = `${this.path}.lock`;
    return withLockFileSync(
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

/** Verifies the audit log at `path` without keys or anchor: keyed records show as `unkeyed`. */
export function verifyAuditLog(path: string, options: { keys?: AuditKeySource; anchor?: AuditAnchor; keysExist?: boolean } = {}): Promise<AuditVerification> {
  return new AuditLog({ path, keys: options.keys, anchor: options.anchor }).verify({ keysExist: options.keysExist });
}

function checkDetails(details: AuditDetails): void {
  for (const [field, value] of Object.entries(details)) {
    if (FORBIDDEN_FIELDS.test(field)) throw new AuditLogError(`Refusing to write the field "${field}" to the audit log: it may hold key material.`);
    // The type allows no Buffers, but untyped callers can pass one: JSON would write its bytes.
    if (!isPlainDetail(value)) {
      throw new AuditLogError(`Refusing to write the field "${field}" to the audit log: only strings, numbers, booleans and string arrays are recorded.`);
    }
  }
}

function isPlainDetail(value: unknown): boolean {
  const t = typeof value;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/**
 * A line as a record, with the exact bytes its MAC covers. Keyed-format lines must end with the
 * `mac` field and carry exactly the known fields before it, so no second `mac` or extra field
 * can ride along outside what the MAC covers.
 */
function parseLine(line: string): { record: AuditRecord; body: string; mac: string | null } | string {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return 'not valid JSON (edited or truncated)';
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'valid JSON but not an audit record (edited)';
  const record = json as AuditRecord;
  if (!('v' in record)) return { record, body: line, mac: null };
  if (record.v !== FORMAT) return `record format ${JSON.stringify(record.v)}, which this cachevault does not know (edited, or written by a newer version)`;
  const suffix = MAC_SUFFIX.exec(line);
  if (!suffix) return 'a keyed record whose line does not end with its MAC field (edited)';
  const body = `${line.slice(0, suffix.index)}}`;
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return 'a keyed record whose body is not valid JSON (edited)';
  }
  const names = Object.keys(fields);
  if (names.length !== KEYED_FIELDS.length || names.some((name, i) => name !== KEYED_FIELDS[i])) return 'a keyed record with missing, extra or reordered fields (edited)';
  const mac = JSON.parse(suffix[1]!) as string | null;
  if ((mac === null) !== (fields.kid === null) || (fields.kid !== null && typeof fields.kid !== 'string')) return 'a keyed record whose key id and MAC disagree (edited)';
  return { record: fields as unknown as AuditRecord, body, mac };
}

function macMatches(key: Buffer, body: string, mac: string): boolean {
  const expected = createHmac('sha256', key).update(MAC_DOMAIN).update(body, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(mac, 'hex'));
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

/**
 * Opens the log without following a symlink at its path, and makes sure it is a regular file
 * readable and writable by its owner only (0600, whatever the umask or an earlier chmod).
 */
function openLog(path: string, flags: number): number {
  let fd: number;
  try {
    fd = openSync(path, flags, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EMLINK') {
      throw new AuditLogError(`The audit log ${path} is a symbolic link; cachevault does not follow links for it.`, {
        cause: error,
        hint: 'Remove the link (it may point at a file someone wants overwritten) or set audit.path to the real file.',
      });
    }
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new AuditLogError(`The audit log ${path} is not a regular file.`, { hint: 'Remove what is at that path, or set audit.path to a file.' });
    }
    if ((flags & constants.O_WRONLY) !== 0 && (stat.mode & 0o777) !== 0o600) fchmodSync(fd, 0o600);
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** Every line, or undefined when there is no log. */
function readLines(path: string): string[] | undefined {
  let fd: number;
  try {
    fd = openLog(path, READ_FLAGS);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (error instanceof AuditLogError) throw error;
    throw new AuditLogError(`Could not read the audit log ${path}: ${(error as Error).message}`, { cause: error });
  }
  let text: string;
  try {
    const size = fstatSync(fd).size;
    const buffer = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, buffer, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    text = buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The first line, reading only the file's head (undefined for an empty or missing file). */
function firstLine(path: string): string | undefined {
  const fd = openLog(path, READ_FLAGS);
  try {
    const buffer = Buffer.alloc(TAIL_BYTES);
    const n = readSync(fd, buffer, 0, TAIL_BYTES, 0);
    if (n === 0) return undefined;
    const text = buffer.subarray(0, n).toString('utf8');
    const end = text.indexOf('\n');
    return end === -1 ? text : text.slice(0, end);
  } finally {
    closeSync(fd);
  }
}

/** The last complete line, reading only the file's tail. */
function lastLine(path: string): string | undefined {
  let fd: number;
  try {
    fd = openLog(path, READ_FLAGS);
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
