/**
 * A full key-management cycle run in a child process by secretLeak.test.ts, with a real pino
 * logger at debug level on stderr and every error printed with its stack and causes, so the test
 * can search ALL output for key bytes. Usage: tsx secretLeakCycle.ts <workDir> <secretsFile>.
 * The known secrets go to <secretsFile> only (written last), never to stdout/stderr.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { AuditLog } from '../../../client/audit/auditLog';
import { createLogger } from '../../../client/logger';
import { EnvKeyProvider } from '../../../client/keys/envKeyProvider';
import { FileManifestStore } from '../../../client/keys/fileManifestStore';
import { KeyManager } from '../../../client/keys/keyManager';
import { KeyringKeyProvider } from '../../../client/keys/keyringKeyProvider';
import { KmsKeyProvider } from '../../../client/keys/kmsKeyProvider';
import { FakeKeyring, awsError, fakeKms } from './fakes';

async function main(): Promise<void> {
  const [workDir, secretsFile] = process.argv.slice(2) as [string, string];
  const logger = createLogger('debug');
  const audit = new AuditLog({ path: join(workDir, 'audit.jsonl') });
  const store = new FileManifestStore(join(workDir, 'keys.manifest.json'));
  const keyring = new FakeKeyring();
  const kms = fakeKms();
  const secrets: Buffer[] = [];
  const show = (label: string, error: unknown) => console.error(label, inspect(error, { depth: 10 }));

  const providers = () => [new KmsKeyProvider({ keyId: 'alias/cv', client: kms.client }), new KeyringKeyProvider({ entryFactory: keyring.factory, logger })];
  const keys = await KeyManager.open({ providers: providers(), store, app: 'shop', environment: 'dev', audit, logger });
  secrets.push(Buffer.from((await keys.activeKey()).material));
  kms.failWith(awsError('AccessDeniedException'));
  await keys.rotate();
  secrets.push(Buffer.from((await keys.activeKey()).material));
  kms.healthy();
  await keys.rotate();
  secrets.push(Buffer.from((await keys.activeKey()).material));
  secrets.push(Buffer.from(keyring.entries.get('cachevault/root-key')!));
  console.log(JSON.stringify(keys.status()));
  console.log(inspect(keys, { depth: 6 }));

  const backup = await keys.exportBackup('a long enough passphrase');
  writeFileSync(join(workDir, 'backup.cvkb'), backup);
  await keys.importBackup(backup, 'the wrong passphrase here').catch((e: unknown) => show('wrong passphrase:', e));
  await keys.retire('k1');
  await keys.keyById('k1').catch((e: unknown) => show('retired key:', e));

  keyring.broken = 'Platform failure: DBus error';
  kms.failWith(awsError('CredentialsProviderError'));
  const envKey = randomBytes(32);
  secrets.push(envKey);
  const cold = await KeyManager.open({
    providers: [...providers(), new EnvKeyProvider({ env: { CACHEVAULT_KEY: `${envKey.toString('base64').slice(0, -4)}!!!!` }, logger })],
    store: new FileManifestStore(join(workDir, 'other.manifest.json')),
    app: 'shop',
    environment: 'dev',
    audit,
    logger,
  });
  await cold.activeKey().catch((e: unknown) => show('no provider:', e));
  await keys.close();
  await cold.close();
  writeFileSync(secretsFile, JSON.stringify(secrets.map((s) => s.toString('hex'))));
}

main().catch((error: unknown) => {
  console.error('cycle failed', error);
  process.exit(1);
});
