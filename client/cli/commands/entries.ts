/** `cachevault get|set|delete`: poke at single entries of the configured cache. */
import type { Command } from 'commander';
import { z } from 'zod';
import { ExitCode } from '../../errors';
import { defineAction, type Runtime } from '../command';
import { keyValues } from '../output';

const NamespaceOption = z.object({ namespace: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'letters, digits, ".", "_", ":" or "-", at most 128').optional() });

const SetOptions = NamespaceOption.extend({
  ttl: z
    .string()
    .regex(/^(\d+|null)$/, 'a whole number of milliseconds, or null for no expiry')
    .transform((v) => (v === 'null' ? null : Number(v)))
    .refine((v) => v === null || v > 0, 'must be positive')
    .optional(),
  string: z.boolean().optional(),
});

/** `set` stores JSON when VALUE parses as JSON (numbers, objects...), else the text; `--string` forces text. */
export function parseValue(raw: string, forceString: boolean): unknown {
  if (forceString) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

export function registerEntries(program: Command, runtime: Runtime): void {
  defineAction(
    runtime,
    program
      .command('get')
      .argument('<key>', 'entry key')
      .option('-n, --namespace <name>', 'namespace (default: the configured one)')
      .description('read one entry (exit 1 when it is not there)'),
    NamespaceOption,
    async (ctx, opts, [key]) => {
      const vault = await ctx.open();
      const cache = opts.namespace ? vault.cache.namespace(opts.namespace) : vault.cache;
      const failuresBefore = vault.cache.stats().decryptFailures;
      const found = await cache.lookup(key!);
      const rejected = vault.cache.stats().decryptFailures > failuresBefore;
      const result = {
        key: key!,
        namespace: cache.namespaceName,
        found: found.found,
        /** A stored entry that failed authentication (or is unencrypted in an encrypted cache): a counted miss. */
        refused: rejected,
        value: found.found ? (found.value ?? null) : null,
        expiresAt: found.expiresAt === null ? null : new Date(found.expiresAt).toISOString(),
      };
      ctx.out.result(result, (r) =>
        r.found ? (typeof r.value === 'string' ? r.value : JSON.stringify(r.value, null, 2)) : '',
      );
      if (!found.found) {
        ctx.out.note(
          rejected
            ? `Entry "${key}" in namespace "${cache.namespaceName}" is stored but was refused (tampered, corrupt, or unencrypted in a cache configured encrypted): treated as a miss.`
            : `No live entry "${key}" in namespace "${cache.namespaceName}" (missing, expired, or unreadable with the keys available).`,
        );
        return ExitCode.failure;
      }
      return ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    program
      .command('set')
      .argument('<key>', 'entry key')
      .argument('<value>', 'value: JSON if it parses as JSON, else text')
      .option('--ttl <ms>', 'time to live in milliseconds, or null for no expiry (default: defaultTtlMs)')
      .option('--string', 'store VALUE as text even if it parses as JSON')
      .option('-n, --namespace <name>', 'namespace (default: the configured one)')
      .description('write one entry'),
    SetOptions,
    async (ctx, opts, [key, raw]) => {
      const vault = await ctx.open();
      const cache = opts.namespace ? vault.cache.namespace(opts.namespace) : vault.cache;
      const value = parseValue(raw!, opts.string === true);
      const ttl = opts.ttl === undefined ? vault.config.defaultTtlMs : opts.ttl;
      const expiresAt = ttl === null ? null : Date.now() + ttl;
      const written = await cache.set(key!, value, { expiresAt });
      const result = {
        key: key!,
        namespace: cache.namespaceName,
        written: written.written,
        expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
        degraded: written.degraded ?? [],
      };
      ctx.out.result(result, (r) =>
        keyValues({ stored: `${r.namespace}/${r.key}`, expires: r.expiresAt ?? 'never', degraded: r.degraded.map((d) => `${d.tier} (${d.reason})`).join(', ') || 'no' }),
      );
      if (result.degraded.length > 0) {
        ctx.out.warn(`The write reached only some tiers: ${result.degraded.map((d) => `${d.tier}: ${d.reason}`).join('; ')}.`);
        return ExitCode.partial;
      }
      return ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    program
      .command('delete')
      .argument('<key>', 'entry key')
      .option('-n, --namespace <name>', 'namespace (default: the configured one)')
      .description('remove one entry'),
    NamespaceOption,
    async (ctx, opts, [key]) => {
      const vault = await ctx.open();
      const cache = opts.namespace ? vault.cache.namespace(opts.namespace) : vault.cache;
      const deleted = await cache.delete(key!);
      ctx.out.result({ key: key!, namespace: cache.namespaceName, deleted }, (r) =>
        r.deleted ? `Deleted ${r.namespace}/${r.key}.` : `${r.namespace}/${r.key} was not there.`,
      );
      return ExitCode.ok;
    },
  );
}
