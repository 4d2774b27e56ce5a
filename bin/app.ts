#!/usr/bin/env node
/**
 * The CDK app: `cdk synth|deploy -c env=dev|staging|prod`. Picks the environment's parameters,
 * adds its stacks and the cdk-nag AwsSolutions checks (findings fail the synth).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addCacheVaultStacks } from '../lib/cacheVaultApp';
import { parametersFor, UnknownEnvironmentError } from '../lib/parameters';

const app = new App();
try {
  addCacheVaultStacks(app, parametersFor(app.node.tryGetContext('env')));
} catch (err) {
  if (err instanceof UnknownEnvironmentError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
