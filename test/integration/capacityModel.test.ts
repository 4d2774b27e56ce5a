import { validateCapacityModel } from '../../bench/support/capacityValidation';
import { CAPACITY_TOLERANCE_PP } from '../../bench/suites/capacity';

describe('the capacity model against a run on DynamoDB Local', () => {
  it('predicts each tier\'s share of gets and the table reads and writes per get within 5 points (short form of `npm run bench -- capacity`)', async () => {
    const endpoint = process.env.CACHEVAULT_TEST_DYNAMODB_ENDPOINT;
    if (!endpoint) throw new Error('CACHEVAULT_TEST_DYNAMODB_ENDPOINT is not set (the integration globalSetup starts DynamoDB Local)');
    const result = await validateCapacityModel({
      endpoint,
      instances: 8,
      keys: 2_000,
      zipf: 1.1,
      getsPerSecond: 40,
      writesPerSecond: 4,
      valueBytes: 1_024,
      memoryEntries: 15,
      fileEntries: 400,
      localTtlMs: 3_000,
      warmupMs: 4_000,
      measureMs: 10_000,
    });
    expect(result.errors).toBe(0);
    expect(result.gets).toBeGreaterThan(300);
    for (const figure of result.figures) {
      expect({ figure: figure.name, differencePp: Math.round(figure.differencePp * 10) / 10, withinTolerance: figure.differencePp <= CAPACITY_TOLERANCE_PP }).toMatchObject({ withinTolerance: true });
    }
  }, 120_000);
});
