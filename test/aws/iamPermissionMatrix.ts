/**
 * The permission matrix the design intends: who (each Lambda role, each client policy, the two
 * AWS services the stacks let in) may do what, on which resource, in which request context.
 * Each role and policy may do exactly what its job needs and nothing near it: the wrong table,
 * key, secret or function, the wrong encryption context, Scan where only Get is needed,
 * PutSecretValue from a client, KMS use without the `kms:ViaService` the grant requires.
 *
 * test/aws/iamMatrix.test.ts evaluates every row with @cloud-copilot/iam-simulate against the
 * policies of each environment's synthesized templates (no unexpected allow, no unexpected deny),
 * and checks that docs/operations.md prints this table. `npx tsx test/aws/iamPermissionMatrix.ts`
 * prints it as Markdown.
 */

export type Principal = 'health' | 'rotate-keys' | 'migrate' | 'read-only client' | 'read-write client' | 'cloudwatch.amazonaws.com' | 'secretsmanager.amazonaws.com';

/** Symbolic resources; the test maps them to ARNs of one environment. */
export type Resource =
  | 'table'
  | 'other table'
  | 'wrapping key'
  | 'storage key'
  | 'manifest MAC key'
  | 'other key'
  | 'manifest secret'
  | 'other secret'
  | 'migrate function'
  | 'rotate-keys function'
  | 'health function';

/** Symbolic request contexts; the test maps them to condition keys. */
export type Context =
  | '-'
  | 'own app/env'
  | 'other env'
  | 'via DynamoDB'
  | 'via Secrets Manager'
  | 'HMAC_SHA_256'
  | 'HMAC_SHA_512'
  | 'own alarm'
  | 'alarm of other account'
  | 'rotation of manifest secret'
  | 'rotation of other secret'
  | 'rotation from other account';

export interface MatrixRow {
  readonly principal: Principal;
  readonly action: string;
  readonly resource: Resource;
  readonly context: Context;
  readonly expected: 'allow' | 'deny';
  readonly why: string;
}

const row = (principal: Principal, action: string, resource: Resource, context: Context, expected: 'allow' | 'deny', why: string): MatrixRow => ({
  principal,
  action,
  resource,
  context,
  expected,
  why,
});

export const PERMISSION_MATRIX: readonly MatrixRow[] = [
  // Clients that only read.
  row('read-only client', 'dynamodb:GetItem', 'table', '-', 'allow', 'get'),
  row('read-only client', 'dynamodb:BatchGetItem', 'table', '-', 'allow', 'getMany'),
  row('read-only client', 'dynamodb:Scan', 'table', '-', 'allow', 'entries / scan'),
  row('read-only client', 'dynamodb:PutItem', 'table', '-', 'deny', 'read-only'),
  row('read-only client', 'dynamodb:DeleteItem', 'table', '-', 'deny', 'read-only'),
  row('read-only client', 'dynamodb:GetItem', 'other table', '-', 'deny', 'only the cache table'),
  row('read-only client', 'secretsmanager:GetSecretValue', 'manifest secret', '-', 'allow', 'reads the key manifest'),
  row('read-only client', 'secretsmanager:PutSecretValue', 'manifest secret', '-', 'deny', 'only rotation writes the manifest'),
  row('read-only client', 'secretsmanager:GetSecretValue', 'other secret', '-', 'deny', 'only the manifest secret'),
  row('read-only client', 'kms:Decrypt', 'wrapping key', 'own app/env', 'allow', 'unwraps data keys'),
  row('read-only client', 'kms:Decrypt', 'wrapping key', 'other env', 'deny', "another environment's data keys"),
  row('read-only client', 'kms:Decrypt', 'wrapping key', '-', 'deny', 'no encryption context, no unwrap'),
  row('read-only client', 'kms:GenerateDataKey', 'wrapping key', 'own app/env', 'deny', 'only rotation makes key versions'),
  row('read-only client', 'kms:Decrypt', 'other key', 'own app/env', 'deny', 'only the wrapping key'),
  row('read-only client', 'kms:Decrypt', 'storage key', 'via DynamoDB', 'allow', 'DynamoDB reads the table for it'),
  row('read-only client', 'kms:Decrypt', 'storage key', '-', 'deny', 'the storage key only through DynamoDB'),
  row('read-only client', 'kms:GenerateDataKey', 'storage key', 'via DynamoDB', 'deny', 'read-only'),
  row('read-only client', 'kms:VerifyMac', 'manifest MAC key', 'HMAC_SHA_256', 'allow', "verifies the manifest's MAC"),
  row('read-only client', 'kms:GenerateMac', 'manifest MAC key', 'HMAC_SHA_256', 'deny', 'a client that could MAC a manifest could forge one'),
  row('read-only client', 'kms:VerifyMac', 'manifest MAC key', 'HMAC_SHA_512', 'deny', 'only the algorithm the client uses'),
  row('read-only client', 'kms:VerifyMac', 'other key', 'HMAC_SHA_256', 'deny', 'only the manifest MAC key'),
  // Clients that read and write.
  row('read-write client', 'dynamodb:PutItem', 'table', '-', 'allow', 'set'),
  row('read-write client', 'dynamodb:UpdateItem', 'table', '-', 'allow', 'leases, namespace clear'),
  row('read-write client', 'dynamodb:BatchWriteItem', 'table', '-', 'allow', 'setMany / delete'),
  row('read-write client', 'dynamodb:PutItem', 'other table', '-', 'deny', 'only the cache table'),
  row('read-write client', 'dynamodb:DeleteTable', 'table', '-', 'deny', 'no table administration'),
  row('read-write client', 'secretsmanager:PutSecretValue', 'manifest secret', '-', 'deny', 'only rotation writes the manifest'),
  row('read-write client', 'kms:GenerateDataKey', 'wrapping key', 'own app/env', 'deny', 'only rotation makes key versions'),
  row('read-write client', 'kms:Decrypt', 'wrapping key', 'own app/env', 'allow', 'unwraps data keys'),
  row('read-write client', 'kms:GenerateDataKey', 'storage key', 'via DynamoDB', 'allow', 'DynamoDB writes the table for it'),
  row('read-write client', 'kms:GenerateDataKey', 'storage key', '-', 'deny', 'the storage key only through DynamoDB'),
  row('read-write client', 'kms:VerifyMac', 'manifest MAC key', 'HMAC_SHA_256', 'allow', "verifies the manifest's MAC"),
  row('read-write client', 'kms:GenerateMac', 'manifest MAC key', 'HMAC_SHA_256', 'deny', 'writing entries is not writing the manifest'),
  // The health Lambda: canary round trip, table checks, key checks.
  row('health', 'dynamodb:PutItem', 'table', '-', 'allow', 'canary write'),
  row('health', 'dynamodb:GetItem', 'table', '-', 'allow', 'canary read'),
  row('health', 'dynamodb:DeleteItem', 'table', '-', 'allow', 'canary delete'),
  row('health', 'dynamodb:DescribeTable', 'table', '-', 'allow', 'table and item-count check'),
  row('health', 'dynamodb:DescribeTimeToLive', 'table', '-', 'allow', 'TTL check'),
  row('health', 'dynamodb:DescribeContinuousBackups', 'table', '-', 'allow', 'PITR status in the table check'),
  row('health', 'dynamodb:Scan', 'table', '-', 'deny', 'no bulk read of the cache'),
  row('health', 'dynamodb:Query', 'table', '-', 'deny', 'no bulk read of the cache'),
  row('health', 'dynamodb:UpdateItem', 'table', '-', 'deny', 'changes no entry in place'),
  row('health', 'dynamodb:BatchWriteItem', 'table', '-', 'deny', 'no bulk writes'),
  row('health', 'secretsmanager:GetSecretValue', 'manifest secret', '-', 'allow', 'key checks read the manifest'),
  row('health', 'secretsmanager:PutSecretValue', 'manifest secret', '-', 'deny', 'health changes no key'),
  row('health', 'kms:Decrypt', 'wrapping key', 'own app/env', 'allow', 'active key check'),
  row('health', 'kms:GenerateDataKey', 'wrapping key', 'own app/env', 'deny', 'health creates no key version'),
  row('health', 'kms:VerifyMac', 'manifest MAC key', 'HMAC_SHA_256', 'allow', "key checks verify the manifest's MAC"),
  row('health', 'kms:GenerateMac', 'manifest MAC key', 'HMAC_SHA_256', 'deny', 'health writes no manifest'),
  row('health', 'lambda:InvokeFunction', 'migrate function', '-', 'deny', 'starts no job'),
  // The rotate-keys Lambda: the four rotation steps, then starts the re-encryption.
  row('rotate-keys', 'secretsmanager:PutSecretValue', 'manifest secret', '-', 'allow', 'createSecret (AWSPENDING)'),
  row('rotate-keys', 'secretsmanager:UpdateSecretVersionStage', 'manifest secret', '-', 'allow', 'finishSecret (AWSCURRENT)'),
  row('rotate-keys', 'secretsmanager:DescribeSecret', 'manifest secret', '-', 'allow', 'checks the token and stages'),
  row('rotate-keys', 'secretsmanager:PutSecretValue', 'other secret', '-', 'deny', 'only the manifest secret'),
  row('rotate-keys', 'secretsmanager:DeleteSecret', 'manifest secret', '-', 'deny', 'rotation deletes nothing'),
  row('rotate-keys', 'kms:GenerateDataKey', 'wrapping key', 'own app/env', 'allow', 'createSecret: new data key'),
  row('rotate-keys', 'kms:GenerateDataKey', 'wrapping key', 'other env', 'deny', "another environment's key versions"),
  row('rotate-keys', 'kms:Decrypt', 'wrapping key', 'own app/env', 'allow', 'testSecret: unwrap the pending key'),
  row('rotate-keys', 'kms:GenerateDataKey', 'storage key', 'via Secrets Manager', 'allow', 'Secrets Manager encrypts the new version'),
  row('rotate-keys', 'kms:GenerateDataKey', 'storage key', '-', 'deny', 'the storage key only through Secrets Manager'),
  row('rotate-keys', 'kms:GenerateMac', 'manifest MAC key', 'HMAC_SHA_256', 'allow', 'createSecret: seals the pending manifest'),
  row('rotate-keys', 'kms:VerifyMac', 'manifest MAC key', 'HMAC_SHA_256', 'allow', 'verifies the current and pending manifests'),
  row('rotate-keys', 'kms:GenerateMac', 'manifest MAC key', 'HMAC_SHA_512', 'deny', 'only the algorithm the client uses'),
  row('rotate-keys', 'kms:GenerateMac', 'wrapping key', 'HMAC_SHA_256', 'deny', 'only the manifest MAC key'),
  row('rotate-keys', 'dynamodb:GetItem', 'table', '-', 'deny', 'rotation never touches the table'),
  row('rotate-keys', 'lambda:InvokeFunction', 'migrate function', '-', 'allow', 'starts the re-encryption'),
  row('rotate-keys', 'lambda:InvokeFunction', 'health function', '-', 'deny', 'only migrate'),
  // The migrate Lambda: re-encryption sweeps and copies, continuing itself.
  row('migrate', 'dynamodb:Scan', 'table', '-', 'allow', 'the sweep reads every entry'),
  row('migrate', 'dynamodb:PutItem', 'table', '-', 'allow', 'the sweep rewrites entries'),
  row('migrate', 'dynamodb:DeleteTable', 'table', '-', 'deny', 'no table administration'),
  row('migrate', 'secretsmanager:PutSecretValue', 'manifest secret', '-', 'allow', 'retires drained versions'),
  row('migrate', 'secretsmanager:UpdateSecretVersionStage', 'manifest secret', '-', 'deny', 'moves no staging label'),
  row('migrate', 'kms:Decrypt', 'wrapping key', 'own app/env', 'allow', 'opens entries under old versions'),
  row('migrate', 'kms:GenerateDataKey', 'wrapping key', 'own app/env', 'deny', 'creates no key version'),
  row('migrate', 'kms:GenerateMac', 'manifest MAC key', 'HMAC_SHA_256', 'allow', 'seals the manifest that retires drained versions'),
  row('migrate', 'kms:VerifyMac', 'manifest MAC key', 'HMAC_SHA_256', 'allow', "verifies the manifest's MAC"),
  row('migrate', 'lambda:InvokeFunction', 'migrate function', '-', 'allow', 'continues its own job'),
  row('migrate', 'lambda:InvokeFunction', 'rotate-keys function', '-', 'deny', 'only itself'),
  // AWS services the stacks let in.
  row('cloudwatch.amazonaws.com', 'kms:GenerateDataKey', 'storage key', 'own alarm', 'allow', 'alarms publish to the encrypted topic'),
  row('cloudwatch.amazonaws.com', 'kms:GenerateDataKey', 'storage key', 'alarm of other account', 'deny', 'confused deputy (aws:SourceAccount)'),
  row('cloudwatch.amazonaws.com', 'kms:Decrypt', 'wrapping key', 'own alarm', 'deny', 'never the data keys'),
  row('cloudwatch.amazonaws.com', 'kms:GenerateMac', 'manifest MAC key', 'own alarm', 'deny', 'no service may MAC a manifest'),
  row('secretsmanager.amazonaws.com', 'lambda:InvokeFunction', 'rotate-keys function', 'rotation of manifest secret', 'allow', 'the rotation schedule'),
  row('secretsmanager.amazonaws.com', 'lambda:InvokeFunction', 'rotate-keys function', 'rotation of other secret', 'deny', 'only this secret (aws:SourceArn)'),
  row('secretsmanager.amazonaws.com', 'lambda:InvokeFunction', 'rotate-keys function', 'rotation from other account', 'deny', 'confused deputy (aws:SourceAccount)'),
  row('secretsmanager.amazonaws.com', 'lambda:InvokeFunction', 'migrate function', 'rotation of manifest secret', 'deny', 'only rotate-keys'),
];

/** The matrix as a Markdown table (what docs/operations.md shows). */
export function matrixMarkdown(rows: readonly MatrixRow[] = PERMISSION_MATRIX): string {
  const lines = ['| Principal | Action | Resource | Context | Expected | Why |', '| --- | --- | --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${r.principal} | \`${r.action}\` | ${r.resource} | ${r.context} | ${r.expected === 'allow' ? 'allow' : '**deny**'} | ${r.why} |`);
  return lines.join('\n');
}

if (require.main === module) process.stdout.write(`${matrixMarkdown()}\n`);
