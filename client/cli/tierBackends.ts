/**
 * Maintenance commands work on one storage tier at a time, with the tier's own class (prune is a
 * FileBackend method, gc a DynamoDBBackend one), so they open that tier directly from the config.
 */
import { resolve } from 'node:path';
import { dynamoBackendOptions } from '../backends/backendFactory';
import { DynamoDBBackend } from '../backends/dynamodbBackend';
import { FileBackend } from '../backends/fileBackend';
import type { AdvancedCacheConfig } from '../config/schema';

export { usesTier } from './configProbe';

export function openFileTier(config: AdvancedCacheConfig, cwd: string): FileBackend {
  return new FileBackend({ ...config.file, dir: resolve(cwd, config.file.dir) });
}

export function openDynamoTier(config: AdvancedCacheConfig): DynamoDBBackend {
  return new DynamoDBBackend(dynamoBackendOptions(config));
}
