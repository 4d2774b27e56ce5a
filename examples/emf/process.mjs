// CloudWatch metrics as EMF lines from a long-running process (ECS, EC2, a container):
// `node examples/emf/process.mjs`. The CloudWatch agent or the awslogs/FireLens log driver turns
// each line on stdout into metrics; no PutMetricData call, no SDK.
import { createCache } from 'cachevault';
import { emfMetrics } from 'cachevault/emf';

const cache = await createCache({ backend: 'memory', audit: { enabled: false } });
const emf = emfMetrics(cache, {
  namespace: 'Checkout/Cache',
  dimensions: { Service: 'checkout' },
  flushIntervalMs: 60_000, // one document a minute; the timer never keeps the process alive
});

await cache.set('user:42', { name: 'Ada' });
await cache.get('user:42');
await cache.get('user:43');

// On shutdown: flush what the last minute counted, and detach.
emf.stop();
await cache.close();
