/** `cachevault/health`: the health checks the CLI's `health`/`status` and the health Lambda run. */
export { checkCacheHealth, type CacheHealthTarget } from '../health/cacheHealth';
export { checkKeys, KeyHealthStep, type KeyHealthTarget, type KeyHealthOptions } from '../health/keyHealth';
