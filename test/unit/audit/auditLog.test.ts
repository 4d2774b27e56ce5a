import { spawn } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditLog, AuditLogError, verifyAuditLog, type AuditAnchor, type AuditHead, type AuditKeySource } from '../../../client/audit/auditLog';
import { ManualClock } from '../../contract/backendContract';

const LEGACY_FIXTURE = resolve(__dirname, '../../fixtures/audit-legacy.jsonl');

/** Audit keys by id, as the key hierarchy would give them; `active` is the one new records use. */
class FakeAuditKeys implements AuditKeySource {
  active: string | undefined = 'k1';
  readonly known = new Map<string, Buffer>([
    ['k1', Buffer.alloc(32, 1)],
    ['k2', Buffer.alloc(32, 2)],
  ]);
  async current() {
    return this.active === undefined ? undefined : this.byId(this.active);
  }
  async byId(id: string) {
    const key = this.known.get(id);
    return key ? { id, key: Buffer.from(key) } : undefined;
  }
}

/** The anchor as the key manifest keeps it: forward only. */
class MemoryAnchor implements AuditAnchor {
  head: AuditHead | undefined;
  writes = 0;
  async read() {
    return this.head;
  }
  async write(head: AuditHead) {
    if (this.head && head.seq < this.head.seq) throw new Error(`behind the anchored head ${this.head.seq}`);
    this.head = head;
    this.writes += 1;
  }
}

function sha256(line: string): string {
  return createHash('sha256').update(line, 'utf8').digest('hex');
}

describe('AuditLog (keyed chain)', () => {
  let dir: string;
  let path: string;
  let keys: FakeAuditKeys;
  let anchor: MemoryAnchor;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-audit-'));
    path = join(dir, 'audit.jsonl');
    keys = new FakeAuditKeys();
    anchor = new MemoryAnchor();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const open = () => new AuditLog({ path, keys, anchor, clock: new ManualClock(Date.parse('2026-03-01T00:00:00Z')).read });
  const verify = (options: { keysExist?: boolean } = {}) => open().verify(options);
  const lines = () => readFileSync(path, 'utf8').trimEnd().split('\n');
  const write = (all: string[]) => writeFileSync(path, `${all.join('\n')}\n`);

  async function writeFive(): Promise<string[]> {
    const log = open();
    log.append('key.generated', { keyId: 'k1', providers: ['kms', 'keyring'] });
    log.append('key.rotated', { from: 'k1', to: 'k2' });
    log.append('key-provider.fallback', { provider: 'kms', fallbackTo: 'keyring' });
    log.append('keys.exported', { versions: ['k1', 'k2'] });
    log.append('key-provider.fallback', { provider: 'kms', fallbackTo: 'keyring' });
    await log.close();
    return lines();
  }

  it('appends JSON lines chained by SHA-256 and MACed under the named key, and verifies them', async () => {
    const written = await writeFive();
    expect(written).toHaveLength(5);
    const records = written.map((l) => JSON.parse(l) as { v: number; seq: number; prev: string; kid: string; mac: string; event: string; time: string });
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(records[0]).toMatchObject({ v: 2, kid: 'k1', prev: '0'.repeat(64), event: 'key.generated', time: '2026-03-01T00:00:00.000Z' });
    expect(records[1]!.prev).toBe(sha256(written[0]!));
    for (const r of records) expect(r.mac).toMatch(/^[0-9a-f]{64}$/);
    expect(await verify()).toMatchObject({ ok: true, status: 'verified', records: 5, macVerified: 5, anchoredSeq: 5, unanchored: 0 });
  });

  it('anchors at once after a key-lifecycle event, and other records on close', async () => {
    const log = open();
    log.append('key.generated', { keyId: 'k1' });
    await log.flush();
    expect(anchor.head?.seq).toBe(1);
    log.append('key-provider.fallback', { provider: 'kms' });
    await log.flush();
    expect(anchor.head?.seq).toBe(1);
    expect(await verify()).toMatchObject({ ok: true, anchoredSeq: 1, unanchored: 1, notes: [expect.stringMatching(/Records 2-2 are after the anchored head/)] });
    await log.close();
    expect(anchor.head).toEqual({ seq: 2, mac: (JSON.parse(lines()[1]!) as { mac: string }).mac });
  });

  it('refuses a forged line appended with a correct predecessor hash and sequence (MAC under another key)', async () => {
    const written = await writeFive();
    const last = JSON.parse(written[4]!) as Record<string, unknown>;
    const body = JSON.stringify({ v: 2, seq: 6, time: last.time, event: 'keys.imported', host: last.host, pid: last.pid, details: { versions: ['k9'] }, prev: sha256(written[4]!), kid: 'k1' });
    write([...written, `${body.slice(0, -1)},"mac":"${'ab'.repeat(32)}"}`]);
    expect(await verify()).toMatchObject({ ok: false, status: 'broken', line: 6, problem: expect.stringMatching(/MAC does not verify under audit key k1/) });
  });

  it('refuses a forged appended line that claims no key, or a key this client does not have', async () => {
    const written = await writeFive();
    const last = JSON.parse(written[4]!) as Record<string, unknown>;
    for (const [kid, mac] of [
      [null, null],
      ['k7', `"${'cd'.repeat(32)}"`],
    ] as const) {
      const body = JSON.stringify({ v: 2, seq: 6, time: last.time, event: 'keys.imported', host: last.host, pid: last.pid, details: {}, prev: sha256(written[4]!), kid });
      write([...written, `${body.slice(0, -1)},"mac":${mac ?? 'null'}}`]);
      expect(await verify()).toMatchObject({ ok: false, status: 'unauthenticated', line: 6, problem: expect.stringMatching(/lines 6-6 carry no MAC this client can check/) });
    }
  });

  it('refuses a forged line in the old unkeyed format appended after keyed ones', async () => {
    const written = await writeFive();
    const forged = JSON.stringify({ seq: 6, time: 'x', event: 'keys.imported', host: 'h', pid: 1, details: {}, prev: sha256(written[4]!) });
    write([...written, forged]);
    expect(await verify()).toMatchObject({ ok: false, status: 'broken', line: 6, problem: expect.stringMatching(/old unkeyed format after keyed ones/) });
  });

  it('detects an edited line by its MAC, even when the following lines are re-chained', async () => {
    const written = await writeFive();
    written[1] = written[1]!.replace('"to":"k2"', '"to":"k3"');
    for (let i = 2; i < written.length; i++) {
      const record = JSON.parse(written[i]!) as Record<string, unknown>;
      written[i] = written[i]!.replace(record.prev as string, sha256(written[i - 1]!));
    }
    write(written);
    expect(await verify()).toMatchObject({ ok: false, status: 'broken', line: 2, problem: expect.stringMatching(/MAC does not verify/) });
  });

  it('detects a deleted line, an inserted copy and lines removed from the start', async () => {
    const written = await writeFive();
    write([...written.slice(0, 2), ...written.slice(3)]);
    expect(await verify()).toMatchObject({ ok: false, status: 'broken', line: 3 });
    write([...written.slice(0, 3), written[2]!, ...written.slice(3)]);
    expect(await verify()).toMatchObject({ ok: false, status: 'broken', line: 4 });
    write(written.slice(1));
    expect(await verify()).toMatchObject({ ok: false, line: 1, problem: expect.stringMatching(/deleted from the start/) });
  });

  it('reports a line that is not a record, or has an extra field outside the MAC, instead of throwing', async () => {
    const written = await writeFive();
    write([...written.slice(0, 2), 'null', ...written.slice(3)]);
    expect(await verify()).toMatchObject({ ok: false, line: 3, problem: expect.stringMatching(/not an audit record/) });
    write([...written.slice(0, 2), written[2]!.replace('{"v":2,', '{"v":2,"admin":true,'), ...written.slice(3)]);
    expect(await verify()).toMatchObject({ ok: false, line: 3, problem: expect.stringMatching(/missing, extra or reordered fields/) });
  });

  it('detects records cut off before the anchored head, and a replaced anchored record', async () => {
    const written = await writeFive();
    expect(anchor.head?.seq).toBe(5);
    write(written.slice(0, 3));
    expect(await verify()).toMatchObject({ ok: false, status: 'broken', problem: expect.stringMatching(/ends at record 3, but the key manifest anchors record 5/) });
    anchor.head = { seq: 3, mac: 'f'.repeat(64) };
    expect(await verify()).toMatchObject({ ok: false, status: 'broken', line: 3, problem: expect.stringMatching(/not the one anchored/) });
  });

  it('reports records after the anchored head as unanchored; cutting those is the documented blind spot', async () => {
    const written = await writeFive();
    anchor.head = { seq: 3, mac: (JSON.parse(written[2]!) as { mac: string }).mac };
    write(written.slice(0, 4));
    expect(await verify()).toMatchObject({ ok: true, status: 'verified', records: 4, anchoredSeq: 3, unanchored: 1 });
  });

  it('a deleted log is broken when the manifest anchors a head, and missing when keys exist', async () => {
    await writeFive();
    rmSync(path);
    expect(await verify()).toMatchObject({ ok: false, status: 'broken', problem: expect.stringMatching(/missing, but the key manifest anchors record 5/) });
    writeFileSync(path, '');
    expect(await verify()).toMatchObject({ ok: false, status: 'broken', problem: expect.stringMatching(/empty, but the key manifest anchors/) });
    anchor.head = undefined;
    rmSync(path);
    expect(await verify({ keysExist: true })).toMatchObject({ ok: false, status: 'missing', problem: expect.stringMatching(/key versions exist/) });
    expect(await verify({ keysExist: false })).toMatchObject({ ok: true, status: 'empty' });
  });

  it('a log deleted and restarted by the next append is still caught, and the refused anchor is reported on close', async () => {
    await writeFive();
    rmSync(path);
    const log = open();
    log.append('key.rotated', { from: 'k2', to: 'k3' });
    await expect(log.close()).rejects.toThrow(/Could not anchor the audit log's head \(record 1\)/);
    expect(anchor.head?.seq).toBe(5);
    expect(await verify()).toMatchObject({ ok: false, status: 'broken', problem: expect.stringMatching(/ends at record 1, but the key manifest anchors record 5/) });
  });

  it('a process whose head another process already anchored past closes cleanly', async () => {
    const a = open();
    const b = open();
    a.append('key-provider.fallback', { provider: 'kms' });
    await a.flush();
    b.append('key.rotated', { from: 'k1', to: 'k2' });
    await b.close();
    expect(anchor.head?.seq).toBe(2);
    await expect(a.close()).resolves.toBeUndefined();
    expect(anchor.head?.seq).toBe(2);
    expect(await verify()).toMatchObject({ ok: true, status: 'verified', anchoredSeq: 2, unanchored: 0 });
  });

  describe('archiving', () => {
    it('moves the records to an archive beside the log and continues the chain, anchored, in a fresh log', async () => {
      await writeFive();
      const log = open();
      const archived = await log.archive();
      expect(archived).toEqual({ archive: expect.stringMatching(/audit\.jsonl\.2026-03-01T00-00-00-000Z\.archived$/), records: 5 });
      expect(statSync(archived!.archive).mode & 0o777).toBe(0o600);
      const [first] = lines();
      expect(JSON.parse(first!)).toMatchObject({ seq: 6, event: 'audit.archived', details: { records: 5 }, prev: sha256(readFileSync(archived!.archive, 'utf8').trimEnd().split('\n')[4]!) });
      expect(anchor.head?.seq).toBe(6);
      log.append('key.rotated', { from: 'k1', to: 'k2' });
      await log.close();
      expect(await verify()).toMatchObject({ ok: true, status: 'verified', records: 2, anchoredSeq: 7, unanchored: 0, notes: [expect.stringMatching(/Records 1-5 were archived/)] });
      // The archive still verifies on its own (its chain and MACs; the anchor has moved on).
      expect(await verifyAuditLog(archived!.archive, { keys })).toMatchObject({ ok: true, status: 'verified', records: 5 });
    });

    it('a forged continuation record (to hide a cut start) does not verify', async () => {
      const written = await writeFive();
      const last = JSON.parse(written[2]!) as Record<string, unknown>;
      const body = JSON.stringify({ v: 2, seq: 3, time: last.time, event: 'audit.archived', host: last.host, pid: last.pid, details: { archive: 'x', records: 2 }, prev: sha256(written[1]!), kid: 'k1' });
      write([`${body.slice(0, -1)},"mac":"${'ef'.repeat(32)}"}`, ...written.slice(3)]);
      expect(await verify()).toMatchObject({ ok: false, status: 'broken', line: 1, problem: expect.stringMatching(/MAC does not verify/) });
    });

    it('an archived log put back in place of the continued one is caught by the anchor', async () => {
      await writeFive();
      const log = open();
      const archived = (await log.archive())!;
      await log.close();
      copyFileSync(archived.archive, path);
      expect(await verify()).toMatchObject({ ok: false, status: 'broken', problem: expect.stringMatching(/ends at record 5, but the key manifest anchors record 6/) });
    });

    it('refuses to archive without an audit key', async () => {
      await writeFive();
      keys.active = undefined;
      await expect(open().archive()).rejects.toThrow(/only be archived with an audit key/);
      expect(lines()).toHaveLength(5);
    });
  });

  it('writes a record without a MAC when no key is available, and a later keyed record vouches for it', async () => {
    keys.active = undefined;
    const log = open();
    log.append('key-provider.fallback', { provider: 'kms' });
    await log.flush();
    expect(JSON.parse(lines()[0]!)).toMatchObject({ kid: null, mac: null });
    expect(await verify()).toMatchObject({ ok: false, status: 'unkeyed' });
    keys.active = 'k2';
    log.append('key.rotated', { from: 'k1', to: 'k2' });
    await log.close();
    expect(await verify()).toMatchObject({ ok: true, status: 'verified', records: 2, macVerified: 1 });
  });

  it('records under a key since retired stay verified through a later record\'s MAC', async () => {
    const log = open();
    log.append('key.generated', { keyId: 'k1' });
    await log.flush();
    keys.active = 'k2';
    log.append('key.retired', { keyId: 'k1' });
    await log.close();
    keys.known.delete('k1');
    expect(await verify()).toMatchObject({ ok: true, status: 'verified', records: 2, macVerified: 1 });
    // ...but an edit of that record still breaks the chain into the next one.
    write([lines()[0]!.replace('"keyId":"k1"', '"keyId":"k3"'), lines()[1]!]);
    expect(await verify()).toMatchObject({ ok: false, status: 'broken', line: 2 });
  });

  it('reads a log written before keying as legacy, not verified, and continues it with keyed records', async () => {
    copyFileSync(LEGACY_FIXTURE, path);
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, status: 'legacy', records: 3, legacyRecords: 3 });
    const log = open();
    log.append('key.rotated', { from: 'k2', to: 'k3' });
    await log.close();
    expect(JSON.parse(lines()[3]!)).toMatchObject({ seq: 4, prev: sha256(lines()[2]!) });
    expect(await verify()).toMatchObject({ ok: true, status: 'verified', records: 4, legacyRecords: 3, notes: [expect.stringMatching(/Records 1-3 predate keyed auditing/)] });
  });

  it('without keys, keyed-format records are reported unkeyed, never verified', async () => {
    const log = new AuditLog({ path });
    log.append('encryption.disabled', { rewritten: 3 });
    expect(await verifyAuditLog(path)).toMatchObject({ ok: false, status: 'unkeyed', records: 1 });
  });

  it('refuses to write through, or read through, a symlink at the log path', async () => {
    const target = join(dir, 'victim.txt');
    writeFileSync(target, 'precious\n');
    symlinkSync(target, path);
    const plain = new AuditLog({ path });
    expect(() => plain.append('key.generated', { keyId: 'k1' })).toThrow(/is a symbolic link; cachevault does not follow links/);
    const log = open();
    log.append('key.generated', { keyId: 'k1' });
    await expect(log.flush()).rejects.toBeInstanceOf(AuditLogError);
    await expect(verify()).rejects.toThrow(/symbolic link/);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it('creates the log 0600 and its directory 0700 whatever the umask, and tightens a 0644 log', async () => {
    const nested = join(dir, 'sub', 'audit.jsonl');
    const previous = process.umask(0);
    try {
      new AuditLog({ path: nested }).append('key.generated', { keyId: 'k1' });
      expect(statSync(nested).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'sub')).mode & 0o777).toBe(0o700);
      chmodSync(nested, 0o644);
      new AuditLog({ path: nested }).append('key.rotated', { from: 'k1', to: 'k2' });
      expect(statSync(nested).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('refuses fields that could carry key material', () => {
    const log = new AuditLog({ path });
    expect(() => log.append('keys.imported', { plaintext: 'x' })).toThrow(AuditLogError);
    expect(() => log.append('keys.imported', { passphrase: 'x' })).toThrow(/may hold key material/);
  });

  it('refuses a Buffer or other object in details instead of writing its bytes', () => {
    const log = new AuditLog({ path, keys });
    const material = Buffer.alloc(32, 7);
    expect(() => log.append('keys.imported', { versions: material as unknown as string })).toThrow(AuditLogError);
    expect(() => log.append('keys.imported', { versions: [material as unknown as string] })).toThrow(AuditLogError);
    expect(() => log.append('keys.imported', { count: { nested: 'x' } as unknown as string })).toThrow(AuditLogError);
    expect(existsSync(path)).toBe(false);
  });

  it('keeps one valid keyed chain when several processes append at once', async () => {
    const modulePath = resolve(__dirname, '../../../client/audit/auditLog.ts');
    const script = `const { AuditLog } = require(${JSON.stringify(modulePath)});
      const key = { id: 'k1', key: Buffer.alloc(32, 1) };
      const keys = { current: async () => ({ ...key, key: Buffer.from(key.key) }), byId: async () => undefined };
      const log = new AuditLog({ path: process.argv[1], keys });
      for (let i = 0; i < 200; i++) log.append('encryption.enabled', { writer: process.pid, i });
      log.flush().catch((e) => { console.error(e); process.exit(1); });`;
    const tsx = resolve(__dirname, '../../../node_modules/.bin/tsx');
    const run = () =>
      new Promise<number>((done, fail) => {
        const child = spawn(tsx, ['-e', script, path], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', fail);
        child.on('exit', (code) => (code === 0 ? done(code) : fail(new Error(`writer exited ${code}: ${stderr}`))));
      });
    await Promise.all([run(), run(), run()]);
    expect(await verify()).toMatchObject({ ok: true, status: 'verified', records: 600, macVerified: 600 });
  });
});

describe('AuditLog and a foreign file at its path', () => {
  it('refuses, at construction, a file whose first line is not an audit record, and leaves it unchanged', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cv-audit-foreign-'));
    try {
      const path = join(dir, 'passwd');
      writeFileSync(path, 'root:x:0:0:root:/root:/bin/bash\n');
      expect(() => new AuditLog({ path })).toThrow(/is not a cachevault audit log/);
      expect(readFileSync(path, 'utf8')).toBe('root:x:0:0:root:/root:/bin/bash\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
