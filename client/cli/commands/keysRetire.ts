/**
 * `cachevault keys retire KEY_ID`: retires a decrypt-only key version once no live entry is still
 * sealed under it (see client/keys/retireKeyVersion.ts); refuses, naming how many remain, otherwise.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { ExitCode } from '../../errors';
import { retireKeyVersion } from '../../keys/retireKeyVersion';
import { defineAction, type Runtime } from '../command';
import { UsageError } from '../errors';

const RetireOptions = z.object({});
const KeyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a key version id such as k1');

/** Said when stored rows carry a clear key id their authenticated envelope header contradicts. */
export function keyIdMismatchWarning(count: number): string {
  return `${count} entr${count === 1 ? 'y has' : 'ies have'} a key id column that disagrees with the key id in the entry's authenticated header (a relabelled or corrupt row); counted under the header's key id. Someone may be editing the cache's storage.`;
}

/** Adds `retire` to the `keys` command group. */
export function registerKeysRetire(group: Command, runtime: Runtime): void {
  defineAction(
    runtime,
    group
      .command('retire')
      .argument('<keyId>', 'the decrypt-only key version to retire (see `cachevault encryption status`)')
      .description('retire a decrypt-only key version after checking that no live entry is still sealed under it'),
    RetireOptions,
    async (ctx, _opts, [keyId]) => {
      const id = KeyId.safeParse(keyId);
      if (!id.success) throw new UsageError(`Invalid key id ${JSON.stringify(keyId)}: expected a key version id such as k1.`, { hint: 'Run `cachevault encryption status` to list the versions.' });
      const vault = await ctx.open();
      if (!vault.keys) throw new UsageError('Encryption is disabled, so there are no keys to retire.');
      const result = await retireKeyVersion({ keys: vault.keys, backend: vault.backend, keyId: id.data });
      if (result.keyIdMismatches > 0) ctx.out.warn(keyIdMismatchWarning(result.keyIdMismatches));
      ctx.out.result({ retired: result.keyId, scanned: result.scanned, keyIdMismatches: result.keyIdMismatches, mismatchSamples: result.mismatchSamples }, (r) => `Retired key version ${r.retired}: none of the ${r.scanned} live entries was sealed under it.`);
      return ExitCode.ok;
    },
  );
}
