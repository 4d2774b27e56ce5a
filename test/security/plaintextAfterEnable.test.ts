/**
 * After `cachevault encryption enable`, someone who reads the cache directory (a backup of the
 * disk, another user after a permission mistake) must find none of the values that were stored
 * unencrypted: not in the database, its free pages, its WAL, nor in blobs. The only copy left is
 * the backup the command took, named and protected as plaintext. Runs the built CLI.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliWorkspace, type CliWorkspace } from '../integration/cliRunner';

describe('plaintext left on disk', () => {
  let ws: CliWorkspace;
  let configFile: string;
  const MARKER = 'PLAINTEXT-MARKER-';
  const run = (args: string[]) => ws.run(['--config', configFile, ...args]);

  /** Files under `dir` (recursively) whose bytes contain the marker. */
  function filesWithMarker(dir: string): string[] {
    const found: string[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) found.push(...filesWithMarker(path));
      else if (entry.isFile() && readFileSync(path).includes(MARKER)) found.push(path);
    }
    return found;
  }

  beforeAll(async () => {
    ws = cliWorkspace({ backend: 'file' });
    configFile = join(ws.dir, 'cachevault.config.json');
    // Compression off and values small, so each marker is stored as it is; two large ones spill to blob files.
    writeFileSync(configFile, JSON.stringify({ encryption: { enabled: false }, compression: { enabled: false }, file: { spillThresholdBytes: 4096 } }));
    for (let i = 0; i < 60; i++) expect((await run(['set', `key-${i}`, `${MARKER}${i}-${'x'.repeat(200)}`, '--string'])).code).toBe(0);
    for (let i = 0; i < 2; i++) expect((await run(['set', `big-${i}`, `${MARKER}big-${i}-${'y'.repeat(8_000)}`, '--string'])).code).toBe(0);
    expect(filesWithMarker(ws.env.CACHEVAULT_FILE_DIR!).length).toBeGreaterThan(0);
    const enabled = await ws.json<{ counts: { rewritten: number } }>(['--config', configFile, 'encryption', 'enable']);
    expect(enabled.code).toBe(0);
    expect(enabled.body.counts.rewritten).toBe(62);
  }, 120_000);
  afterAll(() => ws.remove());

  it('after the enable sweep no file of the cache directory holds a marker', () => {
    expect(filesWithMarker(ws.env.CACHEVAULT_FILE_DIR!)).toEqual([]);
  });

  it('nor after repair', async () => {
    expect((await run(['repair'])).code).toBe(0);
    expect(filesWithMarker(ws.env.CACHEVAULT_FILE_DIR!)).toEqual([]);
  });

  it('the values still read back, encrypted', async () => {
    const got = await ws.json<{ value: string }>(['--config', configFile, 'get', 'key-7']);
    expect(got.body.value).toBe(`${MARKER}7-${'x'.repeat(200)}`);
  });

  it('the only copy that holds them is the backup, named as plaintext, readable by the owner only', () => {
    const backups = readdirSync(join(ws.dir, 'backups'));
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/\.plaintext-backup$/);
    const withMarker = filesWithMarker(join(ws.dir, 'backups'));
    expect(withMarker.length).toBeGreaterThan(0);
    for (const file of withMarker) expect(statSync(file).mode & 0o077).toBe(0);
    expect(statSync(join(ws.dir, 'backups', backups[0]!)).mode & 0o077).toBe(0);
  });
});
