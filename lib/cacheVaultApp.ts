import { Tags, type App } from 'aws-cdk-lib';
import { DataStack } from './stacks/dataStack';
import { OperationsStack } from './stacks/operationsStack';
import type { EnvironmentParameters } from './parameters';

export interface CacheVaultStacks {
  readonly data: DataStack;
  readonly operations: OperationsStack;
}

/** Adds one environment's stacks to an app; `bin/app.ts` and the tests both go through here. */
export function addCacheVaultStacks(app: App, parameters: EnvironmentParameters): CacheVaultStacks {
  const prefix = `CacheVault-${parameters.envName}`;
  const env = parameters.account !== undefined || parameters.region !== undefined
    ? { account: parameters.account, region: parameters.region }
    : undefined;
  const data = new DataStack(app, `${prefix}-Data`, {
    env,
    parameters,
    description: `cachevault ${parameters.app}/${parameters.envName}: cache table, KMS keys, key manifest, client policies`,
    terminationProtection: parameters.retention === 'retain',
  });
  const operations = new OperationsStack(app, `${prefix}-Operations`, {
    env,
    parameters,
    data,
    description: `cachevault ${parameters.app}/${parameters.envName}: health, key rotation and migration Lambdas, alarms, dashboard`,
  });
  for (const stack of [data, operations]) {
    Tags.of(stack).add('app', parameters.app);
    Tags.of(stack).add('environment', parameters.envName);
  }
  return { data, operations };
}
