/**
 * The local root key for `npm start`: in the OS keyring when there is one, else a generated env
 * key kept in an owner-only file (with a warning), so the local stack works on headless
 * machines and CI as well.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { KeyringKeyProvider } from '../keys/keyringKeyProvider';

/**
 * Where the local root key is kept (`store`), and the key provider that reads it from there
 * (`provider`, for `keys.providers`).
 */
export type LocalKey =
  | { readonly store: 'os-keyring'; readonly provider: 'keyring'; readonly service: string; readonly account: string }
  | { readonly store: 'key-file'; readonly provider: 'env'; readonly variable: string; readonly file: string; readonly created: boolean; readonly keyringProblem: string };

/**
 * Makes sure a root key exists in the keyring (creating it on first use); where no keyring
 * works, reads or creates the env key file and puts the key in `env[variable]` for this process.
 */
export async function ensureLocalKey(options: { service: string; account: string; envKeyFile: string; variable: string; env: NodeJS.ProcessEnv }): Promise<LocalKey> {
  const keyring = new KeyringKeyProvider({ service: options.service, account: options.account, linuxStore: 'secret-service' });
  const probe = await keyring.probe();
  keyring.close();
  if (probe.ok) return { store: 'os-keyring', provider: 'keyring', service: options.service, account: options.account };

  let created = false;
  if (!existsSync(options.envKeyFile)) {
    writeFileSync(options.envKeyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    created = true;
  }
  chmodSync(options.envKeyFile, 0o600);
  const key = readFileSync(options.envKeyFile, 'utf8').trim();
  if (Buffer.from(key, 'base64').length !== 32) {
    throw new Error(`${options.envKeyFile} does not hold a base64 256-bit key; delete it to have npm start generate a new one (entries under the old key become unreadable).`);
  }
  options.env[options.variable] = key;
  return { store: 'key-file', provider: 'env', variable: options.variable, file: options.envKeyFile, created, keyringProblem: probe.reason };
}
