import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** One cache's resources: what its clients, operations Lambdas and access policies are granted. */
export interface CacheResources {
  readonly app: string;
  readonly envName: string;
  readonly table: dynamodb.ITable;
  /** Encrypts the table and the key-manifest secret at rest. */
  readonly storageKey: kms.IKey;
  /** Wraps the data keys held in the key manifest. */
  readonly wrappingKey: kms.IKey;
  readonly manifestSecret: secretsmanager.ISecret;
  /** The HMAC_256 key that MACs the key manifest (`keys.kms.macKeyId`). */
  readonly manifestMacKey: kms.IKey;
}

/** The MAC algorithm the client's KMS manifest sealer names (client/keys/kmsManifestSealer.ts). */
export const MANIFEST_MAC_ALGORITHM = 'HMAC_SHA_256';

/**
 * The exact actions a cachevault client uses, and the grants built from them. The table's own
 * `grantReadData` / `grantReadWriteData` would add stream actions and `kms:ReEncrypt*` /
 * `kms:GenerateDataKey*` wildcards on the table key; these grants name each action instead.
 */
export const CacheActions = {
  /** get / getMany / scan / entries, plus DescribeTable(+TTL) for `TableManager.validate()`. */
  tableRead: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:Scan',
    'dynamodb:DescribeTable',
    'dynamodb:DescribeTimeToLive',
  ],
  /** set / setMany / delete / clear / gc and the conditional lease writes. */
  tableWrite: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'],
  /** What DynamoDB asks KMS for on a caller's behalf when the table has a customer-managed key. */
  storageKeyRead: ['kms:Decrypt', 'kms:DescribeKey'],
  storageKeyWrite: ['kms:Encrypt', 'kms:GenerateDataKey'],
  /** Reading the key manifest. */
  manifestRead: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
  /**
   * What the health check does to the table and nothing more: the canary round trip (one
   * PutItem, GetItem, DeleteItem; the namespace-generation lookup is a GetItem) and the table
   * and TTL checks. No Scan, Query, batch or UpdateItem: a health role cannot read the cache out
   * in bulk or change entries in place. DescribeContinuousBackups: the table check reads the
   * PITR status too, and a denied call would put an AccessDenied in CloudTrail every 5 minutes.
   * test/aws/lambdaHandlers.test.ts records the operations the handler really makes and checks
   * them against this list.
   */
  healthCheckTable: [
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:DeleteItem',
    'dynamodb:DescribeTable',
    'dynamodb:DescribeTimeToLive',
    'dynamodb:DescribeContinuousBackups',
  ],
  /** Checking the key manifest's MAC: every role that opens the manifest. */
  manifestMacVerify: ['kms:VerifyMac'],
  /** Sealing a manifest it writes, after verifying the one it builds on: rotate-keys and migrate only. */
  manifestMacSeal: ['kms:GenerateMac', 'kms:VerifyMac'],
} as const;

/*
 * Every grant goes to the principal's policy (Grant.addToPrincipal). The resources' own
 * grant methods may fall back to resource policies when they cannot prove the principal is in
 * the same account, which environment-agnostic stacks never can, and which a ManagedPolicy
 * cannot receive.
 */

/** Read-only access to the cache table (and, through DynamoDB only, to its storage key). */
export function grantTableRead(grantee: iam.IGrantable, table: dynamodb.ITable, storageKey: kms.IKey): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: [...CacheActions.tableRead], resourceArns: [table.tableArn] }).combine(
    grantKeyViaDynamoDB(grantee, storageKey, CacheActions.storageKeyRead),
  );
}

/** Read and write access to the cache table. */
export function grantTableReadWrite(grantee: iam.IGrantable, table: dynamodb.ITable, storageKey: kms.IKey): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: [...CacheActions.tableRead, ...CacheActions.tableWrite],
    resourceArns: [table.tableArn],
  }).combine(grantKeyViaDynamoDB(grantee, storageKey, [...CacheActions.storageKeyRead, ...CacheActions.storageKeyWrite]));
}

/** The health check's canary and table checks (CacheActions.healthCheckTable), and the storage key through DynamoDB. */
export function grantHealthCheckTable(grantee: iam.IGrantable, table: dynamodb.ITable, storageKey: kms.IKey): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: [...CacheActions.healthCheckTable], resourceArns: [table.tableArn] }).combine(
    grantKeyViaDynamoDB(grantee, storageKey, [...CacheActions.storageKeyRead, ...CacheActions.storageKeyWrite]),
  );
}

/** Reading the key manifest: the secret, and its KMS key only when Secrets Manager asks for it. */
export function grantManifestRead(grantee: iam.IGrantable, secret: secretsmanager.ISecret, storageKey: kms.IKey): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: [...CacheActions.manifestRead], resourceArns: [secret.secretArn] }).combine(
    grantKeyVia(grantee, storageKey, 'secretsmanager', ['kms:Decrypt']),
  );
}

/**
 * Everything a cachevault client needs to read the cache: the table's read actions (and its
 * storage key, through DynamoDB only), the key manifest (and its storage key, through Secrets
 * Manager only), kms:Decrypt of data keys wrapped in this app's and environment's encryption
 * context, and kms:VerifyMac on the manifest MAC key. Nothing that writes an entry, creates a
 * data key or MACs a manifest.
 */
export function grantClientRead(grantee: iam.IGrantable, resources: CacheResources): iam.Grant {
  return grantTableRead(grantee, resources.table, resources.storageKey).combine(grantClientKeys(grantee, resources));
}

/** What grantClientRead grants, plus the table's write actions (and encryption under the storage key, through DynamoDB). */
export function grantClientReadWrite(grantee: iam.IGrantable, resources: CacheResources): iam.Grant {
  return grantTableReadWrite(grantee, resources.table, resources.storageKey).combine(grantClientKeys(grantee, resources));
}

/** The key-side part both client grants share: read the manifest, verify its MAC, unwrap data keys. */
function grantClientKeys(grantee: iam.IGrantable, r: CacheResources): iam.Grant {
  return grantManifestRead(grantee, r.manifestSecret, r.storageKey)
    .combine(grantUnwrapDataKeys(grantee, r.wrappingKey, r.app, r.envName))
    .combine(grantManifestMacVerify(grantee, r.manifestMacKey));
}

/**
 * VerifyMac on the manifest MAC key, for HMAC_SHA_256 only: what a reader of the manifest needs.
 * No GenerateMac: a role that could MAC a manifest could forge one.
 */
export function grantManifestMacVerify(grantee: iam.IGrantable, macKey: kms.IKey): iam.Grant {
  return grantManifestMac(grantee, macKey, CacheActions.manifestMacVerify);
}

/** GenerateMac and VerifyMac on the manifest MAC key: for the roles that write the manifest. */
export function grantManifestMacSeal(grantee: iam.IGrantable, macKey: kms.IKey): iam.Grant {
  return grantManifestMac(grantee, macKey, CacheActions.manifestMacSeal);
}

function grantManifestMac(grantee: iam.IGrantable, macKey: kms.IKey, actions: readonly string[]): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: [...actions],
    resourceArns: [macKey.keyArn],
    conditions: { StringEquals: { 'kms:MacAlgorithm': MANIFEST_MAC_ALGORITHM } },
  });
}

function grantKeyViaDynamoDB(grantee: iam.IGrantable, key: kms.IKey, actions: readonly string[]): iam.Grant {
  return grantKeyVia(grantee, key, 'dynamodb', actions);
}

/** KMS actions on `key` only when `service` calls KMS on the grantee's behalf. */
export function grantKeyVia(grantee: iam.IGrantable, key: kms.IKey, service: string, actions: readonly string[]): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: [...actions],
    resourceArns: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `${service}.${Stack.of(key).region}.amazonaws.com` } },
  });
}

function encryptionContext(app: string, envName: string): Record<string, Record<string, unknown>> {
  return { StringEquals: { 'kms:EncryptionContext:app': app, 'kms:EncryptionContext:env': envName } };
}

/**
 * kms:Decrypt on the wrapping key, only for data keys wrapped with this app's and environment's
 * encryption context (the KeyManager binds `{ app, env, keyId }` into every wrap), so a role of
 * one environment cannot unwrap another's keys even holding a copy of its manifest.
 */
export function grantUnwrapDataKeys(grantee: iam.IGrantable, key: kms.IKey, app: string, envName: string): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ['kms:Decrypt'],
    resourceArns: [key.keyArn],
    conditions: encryptionContext(app, envName),
  });
}

/** kms:GenerateDataKey (new data key versions) under the same encryption-context condition. */
export function grantGenerateDataKeys(grantee: iam.IGrantable, key: kms.IKey, app: string, envName: string): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ['kms:GenerateDataKey'],
    resourceArns: [key.keyArn],
    conditions: encryptionContext(app, envName),
  });
}
