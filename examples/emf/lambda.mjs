/* global process */
// A Lambda handler that publishes the cache's metrics with its own, through Powertools Metrics:
// `node examples/emf/lambda.mjs` runs it once locally. Powertools writes one EMF document per
// invocation, with its namespace, service and default dimensions.
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createCache } from 'cachevault';
import { emfMetrics } from 'cachevault/emf';

const metrics = new Metrics({ namespace: 'Checkout', serviceName: 'checkout' });
// Outside the handler: one cache (and one exporter) per execution environment.
const cache = await createCache({ backend: 'memory', audit: { enabled: false } });
const emf = emfMetrics(cache, { metrics });

export const handler = async (event) => {
  try {
    const user = await cache.wrap(`user:${event.userId}`, async () => ({ id: event.userId, name: 'Ada' }), { ttlMs: 60_000 });
    metrics.addMetric('Lookups', 'Count', 1);
    return { statusCode: 200, body: JSON.stringify(user) };
  } finally {
    emf.flush(); // hand this invocation's cache metrics to Powertools...
    metrics.publishStoredMetrics(); // ...which writes them with the handler's own (middy: logMetrics() does this)
  }
};

if (import.meta.url === `file://${process.argv[1]}`) {
  await handler({ userId: '42' });
  await handler({ userId: '42' });
  await cache.close();
}
