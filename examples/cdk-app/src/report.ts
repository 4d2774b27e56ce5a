import { createCache, type Cache } from 'cachevault';

/**
 * The `report` Lambda: only reads what `orders` cached. Its role comes from `grantRead`, so a
 * write would be refused by IAM; it never tries one.
 */
let opening: Promise<Cache> | undefined;

export async function handler(event: { orderIds: string[] }): Promise<{ cached: number; missing: string[] }> {
  const cache = await (opening ??= createCache());
  const orders = await cache.getMany(event.orderIds.map((id) => `order:${id}`));
  const missing = event.orderIds.filter((_, i) => orders[i] === undefined);
  return { cached: event.orderIds.length - missing.length, missing };
}
