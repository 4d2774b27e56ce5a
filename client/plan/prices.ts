/**
 * The published prices the capacity model uses, in one place with their date, so a reader can
 * check them against the current price list before trusting a cost figure.
 */
export const PRICES = {
  /** When these were read from AWS's public price lists (us-east-1). */
  asOf: '2025-11',
  region: 'us-east-1',
  /** DynamoDB on-demand, Standard table class (after the November 2024 reduction). */
  dynamodbPerMillionReadRequestUnits: 0.125,
  dynamodbPerMillionWriteRequestUnits: 0.625,
  dynamodbStoragePerGbMonth: 0.25,
  /** KMS: each customer managed key per month, and symmetric requests per 10,000. */
  kmsPerKeyMonth: 1.0,
  kmsPerTenThousandRequests: 0.03,
  /** DAX on-demand node hour (dax.r5.large, 16 GiB), and the three-node cluster AWS recommends. */
  daxNodeType: 'dax.r5.large',
  daxNodeHour: 0.269,
  daxNodes: 3,
  /** Usable item-cache memory per DAX node, roughly (16 GiB node, after overheads). */
  daxItemCacheBytes: 10 * 1024 ** 3,
} as const;

/** Seconds in the 30-day month every monthly figure uses. */
export const SECONDS_PER_MONTH = 30 * 24 * 3600;
