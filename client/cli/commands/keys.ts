/**
 * `cachevault keys backup --out FILE` / `keys restore FILE`: the key manifest and every
 * non-retired key, sealed under a passphrase (scrypt N = 2^17) or a generated recovery code
 * (`--recovery-code`, shown once); see client/keys/keyBackup.ts.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { ExitCode } from '../../errors';
import { generateRecoveryCode, inspectBackup } from '../../keys/keyBackup';
import { defineAction, type Runtime } from '../command';
import { UsageError } from '../errors';
import { readPassphrase } from '../passphrase';
import { KEY_PROVIDERS, keyProviderDefinition, keyProviderSettings } from '../../keys/providerRegistry';
import { registerKeysRetire } from './keysRetire';

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');
const BackupOptions = z.object({ out: z.string().min(1), passphraseEnv: EnvName.optional(), force: z.boolean().optional(), recoveryCode: z.boolean().optional() });
const RestoreOptions = z.object({ passphraseEnv: EnvName.optional(), allowWeakKdf: z.boolean().optional() });
const NoOptions = z.object({});

const RewrapOptions = z.object({ from: z.array(z.string().min(1).max(2048)).min(1) });
const RotateRootOptions = z.object({ newKeyEnv: EnvName });

export function registerKeys(program: Command, runtime: Runtime): void {
  const group = program.command('keys').description('back up, restore, retire, seal and rewrap the data keys');
  registerKeysRetire(group, runtime);

  defineAction(
    runtime,
    group.command('seal-manifest').description('MAC a key manifest written before manifests were authenticated (once, after checking every key unwraps)'),
    NoOptions,
    async (ctx) => {
      const vault = await ctx.open();
      if (!vault.keys) throw new UsageError('Encryption is disabled, so there is no key manifest to seal.');
      const result = await vault.keys.sealManifest();
      ctx.out.result(result, (r) =>
        r.alreadySealed
          ? `The key manifest is already sealed (revision ${r.revision}); nothing to do.`
          : `Sealed the key manifest at revision ${r.revision}; key versions ${r.versions.join(', ') || 'none'} unwrapped and key-checked.`,
      );
      return ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    group
      .command('rotate-root')
      .requiredOption('--new-key-env <name>', 'environment variable holding the new base64 32-byte root key')
      .description('replace the env root key: wrap every key version under the new one and drop the old wrappings'),
    RotateRootOptions,
    async (ctx, opts) => {
      const vault = await ctx.open();
      if (!vault.keys) throw new UsageError('Encryption is disabled, so there is no root key to replace.');
      const variable = vault.config.keys.envKey.variable;
      // Only a provider whose root key can be handed over in place (the env key) has one to replace here.
      const replaceable = vault.config.keys.providers.find((name) => keyProviderDefinition(name).replaceRootKey);
      if (!replaceable) {
        const names = KEY_PROVIDERS.filter((p) => p.replaceRootKey).map((p) => `"${p.name}"`).join(' or ');
        throw new UsageError(`keys rotate-root replaces the root key of the ${names} provider, and none is in keys.providers.`, {
          hint: 'For the OS keyring: keys backup, delete the keyring entry, keys restore (the restore wraps under the new keyring key).',
        });
      }
      const newRootKey = ctx.env[opts.newKeyEnv];
      if (!newRootKey) throw new UsageError(`The environment variable ${opts.newKeyEnv} is not set.`, { hint: 'Put the new key there: `export NEW_KEY=$(openssl rand -base64 32)`.' });
      // The new key presents itself under the configured variable's name, so wraps and the
      // manifest MAC name the root key the way clients will look it up once it is in place.
      const next = keyProviderDefinition(replaceable).replaceRootKey!(keyProviderSettings(replaceable, vault.config.keys).config, newRootKey);
      try {
        const result = await vault.keys.rotateRoot(next);
        ctx.out.result({ ...result, variable }, (r) =>
          `Re-wrapped key versions ${r.versions.join(', ') || '(none)'} under the new root key (manifest revision ${r.revision}).\nNow set ${r.variable} to the new key everywhere and delete the old one: only then are earlier copies of the manifest useless. Key backups hold the keys themselves: delete old ones separately.`,
        );
      } finally {
        next.close?.();
      }
      return ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    group
      .command('rewrap')
      .requiredOption('--from <arn...>', 'the former KMS key ARN(s) versions are still wrapped under (named in the KMS_KEY_MISMATCH error)')
      .description('after moving the KMS alias to a new key, wrap every key version again under the configured key'),
    RewrapOptions,
    async (ctx, opts) => {
      const vault = await ctx.open();
      if (!vault.keys) throw new UsageError('Encryption is disabled, so there are no keys to rewrap.');
      const result = await vault.keys.rewrap({ from: opts.from });
      ctx.out.result(result, (r) =>
        r.rewrapped.length === 0
          ? `Every key version is already wrapped under ${r.target}.`
          : `Re-wrapped key versions ${r.rewrapped.join(', ')} under ${r.target}. Secrets Manager's older versions and earlier backups still hold the old wrappings: see docs/key-management.md#what-retire-destroys-and-what-it-does-not.`,
      );
      return ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    group
      .command('backup')
      .requiredOption('-o, --out <file>', 'where to write the backup (owner-only)')
      .option('--passphrase-env <name>', 'read the passphrase from this environment variable instead of prompting')
      .option('--recovery-code', 'seal under a generated 160-bit recovery code (printed once) instead of a passphrase')
      .option('--force', 'overwrite an existing file')
      .description('write the manifest and keys, sealed under a passphrase or a recovery code'),
    BackupOptions,
    async (ctx, opts) => {
      if (opts.recoveryCode && opts.passphraseEnv !== undefined) throw new UsageError('--recovery-code and --passphrase-env exclude each other: the code is generated, not chosen.');
      const out = resolve(ctx.io.cwd, opts.out);
      // Checked again, race-free, when writing; here so that nothing is exported (and audited) for a file that will not be written.
      if (!opts.force && lexists(out)) throw new UsageError(`${out} already exists.`, { hint: 'Choose another --out file, or pass --force to replace it.' });
      const vault = await ctx.open();
      if (!vault.keys) throw new UsageError('Encryption is disabled, so there are no keys to back up.');
      const recoveryCode = opts.recoveryCode ? generateRecoveryCode() : undefined;
      const secret = recoveryCode ?? (await readPassphrase(ctx, { envName: opts.passphraseEnv, confirm: true }));
      const bytes = await vault.keys.exportBackup(secret, { secret: recoveryCode ? 'recovery-code' : 'passphrase' });
      writeBackupFile(out, bytes, opts.force === true);
      const versions = vault.keys.status().versions.filter((v) => v.state !== 'retired').map((v) => v.id);
      const info = inspectBackup(bytes);
      ctx.out.result({ file: out, bytes: bytes.length, versions, kdf: info.kdf, ...(info.scrypt ? { scrypt: info.scrypt } : {}), ...(recoveryCode ? { recoveryCode } : {}) }, (r) =>
        recoveryCode
          ? [
              `Wrote ${r.file} (${r.bytes} bytes; key versions ${r.versions.join(', ') || 'none'}), sealed under this recovery code:`,
              '',
              `    ${recoveryCode}`,
              '',
              'It is shown once and not stored anywhere: write it down now and keep it apart from the file.',
            ].join('\n')
          : `Wrote ${r.file} (${r.bytes} bytes; key versions ${r.versions.join(', ') || 'none'}). Keep it and the passphrase apart.`,
      );
      return ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    group
      .command('restore')
      .argument('<file>', 'a backup written by `cachevault keys backup`')
      .option('--passphrase-env <name>', 'read the passphrase (or recovery code) from this environment variable instead of prompting')
      .option('--allow-weak-kdf', 'accept a backup sealed below today\'s scrypt floor (backups from cachevault before format 2)')
      .description('restore key versions from a backup, wrapped again under this machine\'s providers'),
    RestoreOptions,
    async (ctx, opts, [file]) => {
      const path = resolve(ctx.io.cwd, file!);
      let bytes: Buffer;
      try {
        bytes = readFileSync(path);
      } catch (err) {
        throw new UsageError(`Cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, { hint: 'Pass the file written by `cachevault keys backup --out FILE`.' });
      }
      // Read before asking: a damaged or foreign file fails without a prompt, and the prompt names what the file needs.
      const info = inspectBackup(bytes);
      const vault = await ctx.open(undefined, { recoverKeys: true });
      if (!vault.keys) throw new UsageError('Encryption is disabled, so keys cannot be restored into this cache.', { hint: 'Run `cachevault config set encryption.enabled true` first.' });
      const secret = await readPassphrase(ctx, { envName: opts.passphraseEnv, confirm: false, kind: info.kdf === 'recovery-code' ? 'recovery code' : 'passphrase' });
      const result = await vault.keys.importBackup(bytes, secret, { allowWeakKdf: opts.allowWeakKdf === true });
      ctx.out.result({ file: path, format: info.format, kdf: info.kdf, ...result }, (r) =>
        `Restored key versions ${r.imported.join(', ') || '(none)'} from ${r.file}; active: ${r.activeKeyId ?? '(none)'}.${r.format === 1 ? ' This backup is in the old, weaker format: write a new one with `cachevault keys backup` and destroy it.' : ''}`,
      );
      return ExitCode.ok;
    },
  );
}

/**
 * Temp file + rename, so a backup is either complete or absent. The temp file is created with
 * `wx` (never through a symlink or onto another file) and set to 0600 explicitly, whatever the
 * umask; without `--force` an existing target is never replaced.
 */
function writeBackupFile(out: string, bytes: Buffer, force: boolean): void {
  const tmp = `${out}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      fchmodSync(fd, 0o600);
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (!force) {
      try {
        closeSync(openSync(out, 'wx', 0o600));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${out} already exists.`, { hint: 'Choose another --out file, or pass --force to replace it.' });
        throw err;
      }
    }
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Whether anything (a file, a directory, a dangling symlink) is at `path`. */
function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
