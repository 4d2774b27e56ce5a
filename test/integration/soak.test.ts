import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { percentile, valueSizeOf, zipfSampler, type SoakReport } from '../../bench/support/soakRun';
import { testDynamoEndpoint } from '../support/dynamoTestTable';

const root = resolve(__dirname, '../..');

/** The soak in a fresh process (test/support/soakChild.ts says why), on the test's DynamoDB Local. */
async function soakInOwnProcess(): Promise<SoakReport> {
  const { stdout } = await promisify(execFile)(join(root, 'node_modules/.bin/tsx'), [join(root, 'test/support/soakChild.ts'), testDynamoEndpoint()], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 110_000,
  });
  return JSON.parse(stdout) as SoakReport;
}

describe('the soak (short form of `npm run soak`)', () => {
  test('32 callers on an encrypted memory/file/DynamoDB cache for a few seconds meet every check', async () => {
    const report = await soakInOwnProcess();
    const failed = report.checks.filter((c) => !c.pass).map((c) => `${c.name}: ${c.detail}`);
    expect(failed).toEqual([]);
    expect(report.errors.count).toBe(0);
    expect(report.latency.get!.count).toBeGreaterThan(0);
    expect(report.latency.get!.p99Ms).toBeGreaterThanOrEqual(report.latency.get!.p50Ms);
    // Every tier took part: the memory tier answered most reads and passed the rest down.
    expect(report.tiers.memory!.hits).toBeGreaterThan(0);
    expect(report.tiers.memory!.hits + report.tiers.memory!.misses).toBe(report.latency.get!.count);
    expect(Object.keys(report.tiers)).toEqual(['memory', 'file', 'dynamodb']);
  }, 120_000);
});

describe('the soak workload', () => {
  test('a Zipf(1.1) sampler draws low ranks far more often, in the proportion the law gives', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const draw = zipfSampler(1000, 1.1, random);
    const counts = new Array<number>(1000).fill(0);
    for (let i = 0; i < 100_000; i++) counts[draw()]! += 1;
    // P(0) / P(1) = 2^1.1 = 2.14
    expect(counts[0]! / counts[1]!).toBeCloseTo(2 ** 1.1, 0);
    expect(counts[0]!).toBeGreaterThan(counts[9]! * 10);
    expect(counts.every((n, k) => k < 1000 && n >= 0)).toBe(true);
  });

  test('value sizes stay within their bounds and are the same for a key every time', () => {
    const sizes = Array.from({ length: 2000 }, (_, i) => valueSizeOf(`key:${i}`, 100, 204_800));
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(204_800);
    expect(sizes.some((s) => s < 1000) && sizes.some((s) => s > 100_000)).toBe(true);
    expect(valueSizeOf('key:7', 100, 204_800)).toBe(sizes[7]);
  });

  test('percentiles are read from the sorted samples by nearest rank', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile([], 50)).toBe(0);
  });
});
