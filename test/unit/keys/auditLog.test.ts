import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditLog, AuditLogError, verifyAuditLog } from '../../../client/audit/auditLog';
import { ManualClock } from '../../contract/backendContract';

describe('AuditLog', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cv-audit-'));
    path = join(dir, 'audit.jsonl');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function writeFive(): string[] {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const log = new AuditLog({ path, clock: clock.read });
    log.append('key.generated', { keyId: 'k1', providers: ['kms', 'keyring'] });
    log.append('key.rotated', { from: 'k1', to: 'k2' });
    log.append('key-provider.fallback', { provider: 'kms', fallbackTo: 'keyring' });
    log.append('keys.exported', { versions: ['k1', 'k2'] });
    log.append('key.retired', { keyId: 'k1' });
    return readFileSync(path, 'utf8').trimEnd().split('\n');
  }

  it('appends JSON lines, each chained to the SHA-256 of the previous line, and verifies', () => {
    const lines = writeFive();
    expect(lines).toHaveLength(5);
    const records = lines.map((l) => JSON.parse(l) as { seq: number; prev: string; event: string; time: string });
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(records[0]!.prev).toBe('0'.repeat(64));
    expect(records[0]).toMatchObject({ event: 'key.generated', time: '2026-03-01T00:00:00.000Z' });
    expect(verifyAuditLog(path)).toEqual({ ok: true, records: 5 });
  });

  it('detects an edited line and names the line', () => {
    const lines = writeFive();
    lines[1] = lines[1]!.replace('"to":"k2"', '"to":"k3"');
    writeFileSync(path, `${lines.join('\n')}\n`);
    expect(verifyAuditLog(path)).toMatchObject({ ok: false, line: 3, problem: expect.stringMatching(/line 2 was edited/) });
  });

  it('detects a deleted line', () => {
    const lines = writeFive();
    lines.splice(2, 1);
    writeFileSync(path, `${lines.join('\n')}\n`);
    expect(verifyAuditLog(path)).toMatchObject({ ok: false, line: 3 });
  });

  it('detects an inserted line, even one forged with a correct predecessor hash', () => {
    const lines = writeFive();
    const forged = JSON.stringify({ ...JSON.parse(lines[2]!), seq: 4, event: 'keys.imported' });
    lines.splice(3, 0, forged);
    writeFileSync(path, `${lines.join('\n')}\n`);
    const result = verifyAuditLog(path);
    expect(result.ok).toBe(false);
    expect((result as { line: number }).line).toBe(4);
  });

  it('reports a line replaced by JSON that is not a record, instead of throwing', () => {
    const lines = writeFive();
    lines[2] = 'null';
    writeFileSync(path, `${lines.join('\n')}\n`);
    expect(verifyAuditLog(path)).toMatchObject({ ok: false, line: 3, problem: expect.stringMatching(/not an audit record/) });
  });

  it('detects lines removed from the start', () => {
    const lines = writeFive();
    writeFileSync(path, `${lines.slice(1).join('\n')}\n`);
    expect(verifyAuditLog(path)).toMatchObject({ ok: false, line: 1, problem: expect.stringMatching(/deleted from the start/) });
  });

  it('refuses fields that could carry key material', () => {
    const log = new AuditLog({ path });
    expect(() => log.append('keys.imported', { plaintext: 'x' })).toThrow(AuditLogError);
    expect(() => log.append('keys.imported', { passphrase: 'x' })).toThrow(/may hold key material/);
  });

  it('refuses a Buffer or other object in details instead of writing its bytes', () => {
    const log = new AuditLog({ path });
    const material = Buffer.alloc(32, 7);
    expect(() => log.append('keys.imported', { versions: material as unknown as string })).toThrow(AuditLogError);
    expect(() => log.append('keys.imported', { versions: [material as unknown as string] })).toThrow(AuditLogError);
    expect(() => log.append('keys.imported', { count: { nested: 'x' } as unknown as string })).toThrow(AuditLogError);
    expect(existsSync(path)).toBe(false);
  });

  it('keeps one valid chain when several processes append at once', async () => {
    const modulePath = resolve(__dirname, '../../../client/audit/auditLog.ts');
    const script = `const { AuditLog } = require(${JSON.stringify(modulePath)}); const log = new AuditLog({ path: process.argv[1] }); for (let i = 0; i < 300; i++) log.append('encryption.enabled', { writer: process.pid, i });`;
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
    expect(verifyAuditLog(path)).toEqual({ ok: true, records: 900 });
  });
});
