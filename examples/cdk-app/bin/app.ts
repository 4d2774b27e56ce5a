#!/usr/bin/env node
/**
 * A CDK app using cachevault's constructs (`cachevault/cdk`): one stack with the cache
 * (CacheVaultData), the Lambdas that run it (CacheVaultOperations), and two functions of the
 * app's own: `orders` reads and writes the cache, `report` only reads it. cdk-nag's AwsSolutions
 * checks run on every synth; a finding fails it.
 */
import { join } from 'node:path';
import { App, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { CacheVaultData, CacheVaultOperations } from 'cachevault/cdk';

export class OrdersStack extends Stack {
  public readonly cache: CacheVaultData;
  public readonly orders: nodejs.NodejsFunction;
  public readonly report: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    // A throwaway environment: DESTROY. Keep the default (RETAIN) for anything with real users.
    this.cache = new CacheVaultData(this, 'Cache', { app: 'orders', envName: 'dev', removalPolicy: RemovalPolicy.DESTROY });
    // Health check, key rotation (its first run writes the first data key), migration, alarms.
    new CacheVaultOperations(this, 'CacheOperations', { data: this.cache });

    this.orders = appFunction(this, 'Orders', 'src/orders.ts');
    this.cache.grantReadWrite(this.orders);
    this.cache.clientEnvironment(this.orders);

    this.report = appFunction(this, 'Report', 'src/report.ts');
    this.cache.grantRead(this.report);
    this.cache.clientEnvironment(this.report);
  }
}

/** A function with its own log group and a role that may write only there (no AWSLambdaBasicExecutionRole). */
function appFunction(scope: Construct, id: string, entry: string): nodejs.NodejsFunction {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
  const role = new iam.Role(scope, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  logGroup.grantWrite(role);
  return new nodejs.NodejsFunction(scope, id, {
    entry: join(__dirname, '..', entry),
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    role,
    logGroup,
    bundling: {
      minify: true,
      // The runtime's AWS SDK; cachevault's native modules (file tier, OS keyring) never load in Lambda.
      externalModules: ['@aws-sdk/*', 'better-sqlite3', '@napi-rs/keyring'],
    },
  });
}

const app = new App();
new OrdersStack(app, 'OrdersCache');
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
