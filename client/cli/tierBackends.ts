/**
 * Maintenance commands work on one storage tier at a time, with the tier's own class (prune is a
 * FileBackend method, gc a DynamoDBBackend one), so they open that tier directly from the config.
 */
import { resolve } from 'node:path';
import { dynamoBackendOptions } from '../backends/backendFactory';
import type { DynamoDBBackend } from '../backends/dynamodbBackend';
import { FileBackend } from '../backends/fileBackend';
import type { AdvancedCacheConfig } from '../config/schema';
import { loadOptional } from '../optionalDependency';

export { usesTier } from './configProbe';

export function openFileTier(config: AdvancedCacheConfig, cwd: string): FileBackend {
  return new FileBackend({ ...config.file, dir: resolve(cwd, config.file.dir) });
}

/** Loads the AWS SDK here, not at start-up: only `gc`, `reinit` and friends on a DynamoDB tier need it. */
export function openDynamoTier(config: AdvancedCacheConfig): DynamoDBBackend {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DynamoDBBackend } = loadOptional('@aws-sdk/client-dynamodb', () => require('../backends/dynamodbBackend') as typeof import('../backends/dynamodbBackend'));
  return new DynamoDBBackend(dynamoBackendOptions(config));
}
