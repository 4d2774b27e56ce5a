import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { KeyvBackend } from '../../client/backends/keyvBackend';
import { runBackendContract } from '../contract/backendContract';

const dirs: string[] = [];
const stores: Keyv[] = [];
afterAll(async () => {
  // The tier leaves the app's Keyv open on close; the test, as the app, disconnects it.
  for (const keyv of stores) await keyv.disconnect();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

runBackendContract('keyv (in-memory Map store)', ({ clock }) => new KeyvBackend({ keyv: new Keyv({ store: new Map() }), shared: false, persistent: false, clock }));

runBackendContract('keyv (@keyv/sqlite store)', ({ clock }) => {
  const dir = mkdtempSync(join(tmpdir(), 'cv-keyv-sqlite-'));
  dirs.push(dir);
  const keyv = new Keyv({ store: new KeyvSqlite(`sqlite://${join(dir, 'store.sqlite')}`) });
  stores.push(keyv);
  return new KeyvBackend({ keyv, shared: false, clock });
});
