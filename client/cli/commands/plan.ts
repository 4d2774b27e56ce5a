/**
 * `cachevault plan`: the capacity model (client/plan/capacityModel.ts) for a described workload,
 * with no cache opened and nothing read or written: hit ratio per tier, DynamoDB units in total
 * and on the hottest key, KMS calls and the monthly cost, beside DynamoDB alone and DAX.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { ExitCode } from '../../errors';
import { DEFAULT_WORKLOAD, planCapacity, type CapacityPlan, type ValueSize } from '../../plan/capacityModel';
import { defineAction, type Runtime } from '../command';
import { UsageError } from '../errors';
import { keyValues, table } from '../output';

const count = z.coerce.number().finite().nonnegative();
const PlanOptions = z.object({
  instances: z.coerce.number().int().positive().max(1_000_000).optional(),
  getsPerSecond: count.optional(),
  writesPerSecond: count.optional(),
  keys: z.coerce.number().int().positive().max(1e12).optional(),
  zipf: z.coerce.number().min(0).max(5).optional(),
  valueBytes: z.string().optional(),
  memoryEntries: count.optional(),
  memoryBytes: count.optional(),
  fileEntries: count.optional(),
  fileBytes: count.optional(),
  localTtlMs: z.coerce.number().positive().optional(),
  entryTtlMs: z.coerce.number().positive().optional(),
  consistentRead: z.boolean().optional(),
});

/** `1024` or a mix `100:0.5,200000:0.5` (bytes:weight). */
function parseValueSizes(spec: string): ValueSize[] {
  const sizes = spec.split(',').map((part) => {
    const [bytes, weight] = part.split(':');
    return { bytes: Number(bytes), weight: weight === undefined ? 1 : Number(weight) };
  });
  if (sizes.some((s) => !(Number.isFinite(s.bytes) && s.bytes > 0 && Number.isFinite(s.weight) && s.weight > 0))) {
    throw new UsageError(`Invalid option for \`plan\`: --value-bytes: expected BYTES or BYTES:WEIGHT,... with positive numbers (got "${spec}").`);
  }
  return sizes;
}

const percent = (x: number) => `${(x * 100).toFixed(1)}%`;
const dollars = (x: number) => `$${x >= 100 ? x.toFixed(0) : x.toFixed(2)}`;

function human(plan: CapacityPlan): string {
  const w = plan.workload;
  const head = keyValues({
    workload: `${w.instances} instances x ${w.getsPerSecond} gets/s + ${w.writesPerSecond} writes/s, ${w.keys} keys, Zipf(${w.zipf})`,
    tiers: `memory ${w.memoryEntries} entries, file ${w.fileEntries} entries, local TTL cap ${w.localTtlMs} ms, entry TTL ${w.entryTtlMs} ms`,
    prices: `${plan.prices.region}, as published ${plan.prices.asOf} (client/plan/prices.ts)`,
  });
  const rows = plan.scenarios.map((s) => ({
    scenario: s.name,
    memory: percent(s.ratios.memory),
    file: percent(s.ratios.file),
    dax: percent(s.ratios.dax),
    dynamodb: percent(s.ratios.dynamodb),
    loader: percent(s.ratios.miss),
    'rcu/s': Math.round(s.units.rcuPerSecond),
    'wcu/s': Math.round(s.units.wcuPerSecond),
    'hot key rcu/wcu': `${Math.round(s.hot.hottestKeyRcu)}/${Math.round(s.hot.hottestKeyWcu)}`,
    'kms/s': s.kmsCallsPerSecond.toFixed(2),
    'per month': dollars(s.cost.total),
    'per 1M gets': dollars(s.cost.perMillionGets),
  }));
  const risks = plan.risks.length > 0 ? `\nrisks:\n${plan.risks.map((r) => `  - ${r}`).join('\n')}` : '\nrisks: none found';
  return `${head}\n\n${table(rows)}\n${risks}\n`;
}

export function registerPlan(program: Command, runtime: Runtime): void {
  defineAction(
    runtime,
    program
      .command('plan')
      .description('predict tier hit ratios, DynamoDB units (total and hottest key), KMS calls and monthly cost for a workload; reads and writes nothing')
      .option('--instances <n>', `application instances (default ${DEFAULT_WORKLOAD.instances})`)
      .option('--gets-per-second <n>', `gets per second per instance (default ${DEFAULT_WORKLOAD.getsPerSecond})`)
      .option('--writes-per-second <n>', `writes per second per instance (default ${DEFAULT_WORKLOAD.writesPerSecond})`)
      .option('--keys <n>', `distinct keys (default ${DEFAULT_WORKLOAD.keys})`)
      .option('--zipf <s>', `Zipf skew of key popularity (default ${DEFAULT_WORKLOAD.zipf})`)
      .option('--value-bytes <spec>', 'value size, or a mix BYTES:WEIGHT,... (default 1024)')
      .option('--memory-entries <n>', `memory tier entries per instance (default ${DEFAULT_WORKLOAD.memoryEntries})`)
      .option('--memory-bytes <n>', `memory tier bytes per instance (default ${DEFAULT_WORKLOAD.memoryBytes})`)
      .option('--file-entries <n>', `file tier entries per instance, 0 for none (default ${DEFAULT_WORKLOAD.fileEntries})`)
      .option('--file-bytes <n>', `file tier bytes per instance (default ${DEFAULT_WORKLOAD.fileBytes})`)
      .option('--local-ttl-ms <n>', `hybrid.localTtlCapMs (default ${DEFAULT_WORKLOAD.localTtlMs})`)
      .option('--entry-ttl-ms <n>', `the entries' TTL (default ${DEFAULT_WORKLOAD.entryTtlMs})`)
      .option('--consistent-read', 'strongly consistent table reads'),
    PlanOptions,
    async (ctx, opts) => {
      const plan = planCapacity({
        ...DEFAULT_WORKLOAD,
        ...Object.fromEntries(Object.entries(opts).filter(([k, v]) => v !== undefined && k !== 'valueBytes')),
        ...(opts.valueBytes !== undefined ? { valueSizes: parseValueSizes(opts.valueBytes) } : {}),
      });
      ctx.out.result(plan, human);
      return ExitCode.ok;
    },
  );
}
