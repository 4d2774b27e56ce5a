/** `cachevault table create|describe|validate|delete`: the DynamoDB table, from the shared schema. */
import type { Command } from 'commander';
import { z } from 'zod';
import type { TableManager, TableSummary } from '../../dynamodb/tableManager';
import { DynamoDBConfig } from '../../config/schema';
import { ExitCode } from '../../errors';
import { loadOptional } from '../../optionalDependency';
import { defineAction, type Runtime } from '../command';
import { confirmDestructive } from '../confirm';
import type { CliContext } from '../context';
import { formatBytes, keyValues, table } from '../output';

const TableOption = z.object({ table: DynamoDBConfig.shape.tableName.unwrap().optional() });

const CreateOptions = TableOption.extend({
  billingMode: z.enum(['PAY_PER_REQUEST', 'PROVISIONED']).optional(),
  readCapacity: z.coerce.number().int().positive().optional(),
  writeCapacity: z.coerce.number().int().positive().optional(),
});

const DeleteOptions = TableOption.extend({ yes: z.boolean().optional() });

/**
 * A TableManager for the configured table (or `--table`), with the configured endpoint and timeouts.
 * The AWS SDK is loaded here, when a command first needs the table, so the commands that never
 * do (`--help`, `get` on a file cache...) start without it.
 */
export function tableManagerFor(ctx: CliContext, tableName?: string): { manager: TableManager; close(): void } {
  const { dynamodb } = ctx.config().config;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { createDynamoDBClient } = loadOptional('@aws-sdk/client-dynamodb', () => require('../../dynamodb/dynamodbClient') as typeof import('../../dynamodb/dynamodbClient'));
  const { TableManager } = require('../../dynamodb/tableManager') as typeof import('../../dynamodb/tableManager');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const client = createDynamoDBClient({
    region: dynamodb.region,
    endpoint: dynamodb.endpoint,
    requestTimeoutMs: dynamodb.requestTimeoutMs,
    maxAttempts: dynamodb.maxAttempts,
  });
  return { manager: new TableManager({ client, tableName: tableName ?? dynamodb.tableName }), close: () => client.destroy() };
}

export function formatTable(s: TableSummary): string {
  return keyValues({
    table: s.tableName,
    status: s.status,
    items: `${s.itemCount} (approximate)`,
    size: formatBytes(s.sizeBytes),
    billing: s.billingMode === 'PROVISIONED' ? `PROVISIONED (${s.readCapacity} RCU / ${s.writeCapacity} WCU)` : s.billingMode,
    ttl: `${s.ttl.status}${s.ttl.attribute ? ` on ${s.ttl.attribute}` : ''}`,
    'point-in-time recovery': s.pointInTimeRecovery,
    created: s.createdAt?.toISOString(),
  });
}

export function registerTable(program: Command, runtime: Runtime): void {
  const group = program.command('table').description('create, describe, validate or delete the DynamoDB table');
  const withTable = (cmd: Command) => cmd.option('-t, --table <name>', 'table name (default: dynamodb.tableName)');

  defineAction(
    runtime,
    withTable(group.command('create'))
      .option('--billing-mode <mode>', 'PAY_PER_REQUEST or PROVISIONED', 'PAY_PER_REQUEST')
      .option('--read-capacity <n>', 'read capacity units (PROVISIONED)')
      .option('--write-capacity <n>', 'write capacity units (PROVISIONED)')
      .description('create the table with the schema the CDK stack uses, and enable TTL'),
    CreateOptions,
    async (ctx, opts) => {
      const { manager, close } = tableManagerFor(ctx, opts.table);
      try {
        const summary = await manager.create({ billingMode: opts.billingMode, readCapacity: opts.readCapacity, writeCapacity: opts.writeCapacity });
        ctx.out.result(summary, (s) => `Created table ${s.tableName}.\n${formatTable(s)}`);
        return ExitCode.ok;
      } finally {
        close();
      }
    },
  );

  defineAction(runtime, withTable(group.command('describe')).description('status, size, billing, TTL and backups of the table'), TableOption, async (ctx, opts) => {
    const { manager, close } = tableManagerFor(ctx, opts.table);
    try {
      ctx.out.result(await manager.describe(), formatTable);
      return ExitCode.ok;
    } finally {
      close();
    }
  });

  defineAction(runtime, withTable(group.command('validate')).description('compare the live table with the schema (exit 1 on problems)'), TableOption, async (ctx, opts) => {
    const { manager, close } = tableManagerFor(ctx, opts.table);
    try {
      const result = await manager.validate();
      ctx.out.result({ tableName: manager.tableName, ...result }, (r) =>
        r.ok
          ? `Table ${r.tableName} matches the schema.`
          : `Table ${r.tableName} has ${r.problems.length} problem(s):\n${table(r.problems.map((p) => ({ kind: p.kind, problem: p.message, expected: p.expected, actual: p.actual })))}\n` +
            (r.problems.some((p) => p.kind === 'ttl') ? 'Run `cachevault repair` to enable TTL.' : ''),
      );
      return result.ok ? ExitCode.ok : ExitCode.failure;
    } finally {
      close();
    }
  });

  defineAction(
    runtime,
    withTable(group.command('delete')).option('-y, --yes', 'do not ask for confirmation').description('delete the table and every entry in it'),
    DeleteOptions,
    async (ctx, opts) => {
      const { manager, close } = tableManagerFor(ctx, opts.table);
      try {
        await confirmDestructive(ctx, `Delete DynamoDB table "${manager.tableName}" and every entry in it`, opts.yes);
        await manager.delete();
        ctx.out.result({ tableName: manager.tableName, deleted: true }, (r) => `Deleted table ${r.tableName}.`);
        return ExitCode.ok;
      } finally {
        close();
      }
    },
  );
}
