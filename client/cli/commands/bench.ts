/**
 * `cachevault bench`: the configured cache (backend, encryption, compression as configured)
 * measured with the shared bench harness, beside an in-memory CacheManager in the same run, so
 * the numbers come with a same-run peer instead of standing alone.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { z } from 'zod';
import { formatSuite, measure, ratio, type CaseResult, type SuiteResult } from '../../../bench/harness';
import { MemoryBackend } from '../../backends/memoryBackend';
import { CacheManager } from '../../core/cacheManager';
import { ExitCode } from '../../errors';
import { defineAction, type Runtime } from '../command';

const BenchOptions = z.object({
  ops: z.coerce.number().int().positive().max(10_000_000).optional(),
  valueBytes: z.coerce.number().int().positive().max(4 * 1024 * 1024).optional(),
  quick: z.boolean().optional(),
});

/** A dedicated namespace, cleared afterwards, so the bench never touches an app's entries. */
const BENCH_NAMESPACE = '__bench__';

async function cacheCases(label: string, cache: CacheManager, ops: number, value: string, progress: (m: string) => void): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  progress(`${label}: set`);
  out.push(await measure(`${label} set`, (i) => cache.set(`k${i}`, value, { ttlMs: 600_000 }), { ops, warmup: Math.min(50, ops) }));
  progress(`${label}: get (hit)`);
  out.push(
    await measure(`${label} get hit`, async (i) => {
      if ((await cache.get(`k${i % ops}`)) === undefined) throw new Error(`bench: ${label} missed a key it had just written`);
    }, { ops, warmup: Math.min(50, ops) }),
  );
  progress(`${label}: get (miss)`);
  out.push(await measure(`${label} get miss`, (i) => cache.get(`absent-${i}`), { ops, warmup: Math.min(50, ops) }));
  const batch = 25;
  progress(`${label}: setMany`);
  out.push(
    await measure(
      `${label} setMany x${batch}`,
      (i) => cache.setMany(Array.from({ length: batch }, (_, j) => ({ key: `b${i}-${j}`, value, ttlMs: 600_000 }))),
      { ops: Math.max(1, Math.floor(ops / batch)), warmup: 2, batch },
    ),
  );
  return out;
}

export function registerBench(program: Command, runtime: Runtime): void {
  defineAction(
    runtime,
    program
      .command('bench')
      .option('--ops <n>', 'operations per case (default 2000; 200 with --quick)')
      .option('--value-bytes <n>', 'size of each value (default 1024)')
      .option('--quick', 'a short smoke run')
      .description('benchmark set/get/setMany against the configured cache, beside an in-memory peer measured in the same run'),
    BenchOptions,
    async (ctx, opts) => {
      const ops = opts.ops ?? (opts.quick ? 200 : 2_000);
      // Random base64 text: realistic for cached JSON and not flattered by compression.
      const value = randomBytes(Math.ceil(((opts.valueBytes ?? 1024) * 3) / 4)).toString('base64').slice(0, opts.valueBytes ?? 1024);
      const vault = await ctx.open();
      const configured = vault.cache.namespace(BENCH_NAMESPACE);
      const peer = new CacheManager({ backend: new MemoryBackend({ maxEntries: ops * 4 }), namespace: BENCH_NAMESPACE });
      const progress = (m: string) => ctx.out.note(m);
      const label = `${vault.config.backend}`;
      try {
        // Interleaved rounds, median kept: a noisy neighbour or a JIT warm-up slows both sides alike.
        const rounds = opts.quick ? 1 : 3;
        const samples = new Map<string, CaseResult[]>();
        for (let round = 0; round < rounds; round++) {
          progress(`round ${round + 1}/${rounds}`);
          for (const c of [...(await cacheCases(label, configured, ops, value, progress)), ...(await cacheCases('memory-peer', peer, ops, value, progress))]) {
            samples.set(c.name, [...(samples.get(c.name) ?? []), c]);
          }
        }
        const cases = [...samples.values()].map((list) => [...list].sort((a, b) => a.opsPerSec - b.opsPerSec)[Math.floor(list.length / 2)]!);
        const result: SuiteResult = {
          suite: `cli:${label}`,
          cases,
          ratios: [
            ratio(cases, `${label} get hit`, 'memory-peer get hit'),
            ratio(cases, `${label} set`, 'memory-peer set'),
            ratio(cases, `${label} setMany x25`, `${label} set`),
          ],
          notes: [
            `${ops} operations per case, median of ${rounds} interleaved round(s), ${value.length}-byte values, namespace ${BENCH_NAMESPACE} (cleared afterwards).`,
            `encryption: ${vault.encryption.algorithm}; the memory peer is unencrypted.`,
          ],
        };
        ctx.out.result({ node: process.version, date: new Date().toISOString(), results: [result] }, (r) => formatSuite(r.results[0]!));
        return ExitCode.ok;
      } finally {
        await configured.clear();
        await peer.close();
      }
    },
  );
}
