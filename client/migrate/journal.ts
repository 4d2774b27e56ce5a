import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { StoredEntry } from '../types';
import { MigrationStateError } from './errors';
import { renameAside, type SegmentState } from './checkpoint';

/**
 * One line of the journal: the destination's state of one key before a batch overwrote it.
 * `before: null` means the key was absent (rollback deletes it). `seg`/`seq` name the batch, so a
 * resumed run knows which records belong to batches that may not have been written.
 */
export interface JournalRecord {
  readonly seg: number;
  readonly seq: number;
  readonly ns: string;
  readonly key: string;
  readonly before: JournalEntryState | null;
}

/** A StoredEntry as JSON: the stored (already sealed) bytes in base64. */
export interface JournalEntryState {
  readonly v: string;
  readonly exp: number | null;
  readonly kid: string;
  readonly at: number;
}

export function toJournalState(entry: StoredEntry): JournalEntryState {
  return { v: Buffer.from(entry.value.buffer, entry.value.byteOffset, entry.value.byteLength).toString('base64'), exp: entry.expiresAt, kid: entry.keyId, at: entry.createdAt };
}

export function fromJournalState(ns: string, key: string, state: JournalEntryState): StoredEntry {
  return { namespace: ns, key, value: Buffer.from(state.v, 'base64'), expiresAt: state.exp, keyId: state.kid, createdAt: state.at };
}

/** Identity of a key across namespaces, for sets. */
export function refId(namespace: string, key: string): string {
  return `${namespace}\u0000${key}`;
}

const TAIL_CHUNK = 64 * 1024;

/**
 * The rollback journal: JSON lines appended (and fsynced) before each batch is written, holding
 * what the destination had under each key. Holds stored bytes exactly as the destination kept
 * them (sealed when the destination is encrypted), so the file is created owner-only.
 */
export class Journal {
  readonly path: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.path = join(stateDir, 'journal.jsonl');
  }

  /** Starts an empty journal (a new run). */
  async reset(): Promise<void> {
    await fs.writeFile(this.path, '', { mode: 0o600 });
  }

  /**
   * Drops a torn last line left by a kill during an append. The batch it belonged to was never
   * written (the journal is synced before the write starts), so nothing it described happened.
   */
  async repairTail(): Promise<void> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.path, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        await this.reset();
        return;
      }
      throw err;
    }
    try {
      const { size } = await handle.stat();
      let end = size;
      const buf = Buffer.alloc(TAIL_CHUNK);
      while (end > 0) {
        const start = Math.max(0, end - TAIL_CHUNK);
        const { bytesRead } = await handle.read(buf, 0, end - start, start);
        const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
        if (nl >= 0) {
          end = start + nl + 1;
          break;
        }
        end = start;
      }
      if (end !== size) {
        await handle.truncate(end);
        await handle.datasync();
      }
    } finally {
      await handle.close();
    }
  }

  /** Appends records as one write and syncs them before resolving. Appends are serialised. */
  append(records: readonly JournalRecord[]): Promise<void> {
    if (records.length === 0) return this.chain;
    const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const next = this.chain.then(async () => {
      const handle = await fs.open(this.path, 'a', 0o600);
      try {
        await handle.write(text);
        await handle.datasync();
      } finally {
        await handle.close();
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Every record, in the order written. Streams: the journal may be larger than memory. */
  async *records(): AsyncGenerator<JournalRecord> {
    let stream;
    try {
      await fs.access(this.path);
      stream = createReadStream(this.path, { encoding: 'utf8' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let lineNo = 0;
    for await (const line of lines) {
      lineNo += 1;
      if (line.length === 0) continue;
      let record: JournalRecord;
      try {
        record = JSON.parse(line) as JournalRecord;
      } catch (err) {
        throw new MigrationStateError(this.path, `line ${lineNo} is not valid JSON`, { cause: err });
      }
      if (typeof record.ns !== 'string' || typeof record.key !== 'string' || typeof record.seg !== 'number' || typeof record.seq !== 'number') {
        throw new MigrationStateError(this.path, `line ${lineNo} is not a journal record`);
      }
      yield record;
    }
  }

  /**
   * Keys journaled for batches the checkpoint does not count as written: a resumed run rewrites
   * those batches but must not journal them again, since the destination may already hold the
   * migrated value and the journal would record it as the "before" state. At most
   * concurrency x batchSize keys.
   */
  async inFlightKeys(segments: readonly SegmentState[]): Promise<Set<string>> {
    const committed = new Map(segments.map((s) => [s.segment, s.batches]));
    const keys = new Set<string>();
    for await (const record of this.records()) {
      if (record.seq >= (committed.get(record.seg) ?? 0)) keys.add(refId(record.ns, record.key));
    }
    return keys;
  }

  async archive(suffix: string): Promise<void> {
    await this.chain;
    await renameAside(this.path, suffix);
  }
}
