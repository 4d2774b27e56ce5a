import { createCache, type Cache } from 'cachevault';

/**
 * The `orders` Lambda: reads an order through the cache. `createCache()` takes its whole
 * configuration from the CACHEVAULT_* variables `clientEnvironment(fn)` set (the DynamoDB table,
 * KMS-wrapped data keys, the key manifest in Secrets Manager). One cache per execution
 * environment: opened on the first invocation, reused after.
 */
let opening: Promise<Cache> | undefined;

export async function handler(event: { orderId: string }): Promise<{ order: Order; fromCache: boolean }> {
  const cache = await (opening ??= createCache());
  let fromCache = true;
  const order = await cache.wrap(
    `order:${event.orderId}`,
    async () => {
      fromCache = false;
      return loadOrder(event.orderId);
    },
    { ttlMs: 5 * 60_000 },
  );
  return { order, fromCache };
}

interface Order {
  readonly id: string;
  readonly totalCents: number;
}

/** Stands in for the slow call the cache is in front of (a database, another service). */
async function loadOrder(id: string): Promise<Order> {
  return { id, totalCents: 4200 };
}
