/**
 * `cdk bootstrap` + `cdk deploy` of one environment's Data stack into moto_server with the real
 * CDK CLI (`npm run deploy:emulator`, and test/aws/deployDataStack.test.ts).
 *
 * moto's CloudFormation cannot take the synthesized template as it is, so the cloud assembly
 * (never the production code or cdk.out) is patched before the deploy, each patch named in the
 * result:
 * - `AWS::KMS::Key` with `Tags`: moto 5.2 fails inside CreateKey (KeyError 'TagKey': it expects
 *   the KMS API's TagKey/TagValue shape). Tags are dropped from the keys.
 * - `AWS::SecretsManager::Secret`: moto has no CloudFormation support for it (Ref resolves to
 *   nothing and the client policies that name it are refused as MalformedPolicyDocument). The
 *   secret is created through the Secrets Manager API with the template's name, description and
 *   value, and the template refers to its ARN. Its `KmsKeyId` (the storage key) is left out.
 * - The manifest MAC key (`AWS::KMS::Key` with `KeySpec: HMAC_256`): moto 5.2's CloudFormation
 *   ignores KeySpec and KeyUsage and makes a symmetric encryption key, on which GenerateMac fails
 *   (InvalidKeyUsage). It is created through the KMS API with the template's description, spec
 *   and usage, and the template (its alias, the client policies, the output) refers to its ARN.
 * moto's CloudFormation also reports success for resources it failed to create, so the caller
 * checks what it relies on through each service's API.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { EnvironmentName } from '../../lib/parameters';
import { MOTO_ACCOUNT, MOTO_CREDENTIALS, MOTO_REGION } from './motoServer';
import type { CfnTemplate } from './synthesizedStacks';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');

export interface EmulatorDeployOptions {
  readonly port: number;
  readonly envName?: EnvironmentName;
  /** Where the cloud assembly goes. @default a new temp directory */
  readonly outdir?: string;
  /** Progress lines (the CLI's output is kept quiet). */
  readonly log?: (line: string) => void;
}

export interface EmulatorDeployResult {
  readonly stackName: string;
  /** The stack's outputs as `cdk deploy --outputs-file` wrote them. */
  readonly outputs: Record<string, string>;
  /** What was changed in the assembly for moto, one line each. */
  readonly patches: readonly string[];
  readonly secretArn: string;
  /** The manifest MAC key, made through the KMS API (see the patches above). */
  readonly manifestMacKeyArn: string;
  readonly assemblyDir: string;
}

/** The environment the CDK CLI runs with: every AWS call to moto, spelled `localhost`. */
export function cdkEmulatorEnv(port: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ENDPOINT_URL: `http://localhost:${port}`,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    AWS_REGION: MOTO_REGION,
    AWS_DEFAULT_REGION: MOTO_REGION,
    CDK_DISABLE_VERSION_CHECK: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

async function cdk(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout, stderr } = await run('npx', ['cdk', ...args], { cwd: ROOT, env, maxBuffer: 32 * 1024 * 1024, timeout: 600_000 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`cdk ${args.join(' ')} failed: ${e.message}\n${(e.stdout ?? '').slice(-2000)}${(e.stderr ?? '').slice(-4000)}`, { cause: error });
  }
}

export async function deployDataStackToEmulator(options: EmulatorDeployOptions): Promise<EmulatorDeployResult> {
  const envName = options.envName ?? 'dev';
  const log = options.log ?? (() => undefined);
  const env = cdkEmulatorEnv(options.port);
  const outdir = options.outdir ?? mkdtempSync(join(tmpdir(), 'cv-emulator-asm-'));
  const stackName = `CacheVault-${envName}-Data`;

  log(`cdk synth ${stackName} -> ${outdir}`);
  await cdk(['synth', stackName, '--exclusively', '-c', `env=${envName}`, '-o', outdir, '--quiet'], env);

  const templatePath = join(outdir, `${stackName}.template.json`);
  const template = JSON.parse(readFileSync(templatePath, 'utf8')) as CfnTemplate;
  const patches: string[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::KMS::Key' && resource.Properties?.Tags) {
      delete resource.Properties.Tags;
      patches.push(`${id}: Tags dropped (moto's CloudFormation fails to tag a KMS key)`);
    }
  }
  const secrets = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret');
  if (secrets.length !== 1) throw new Error(`expected one secret in ${stackName}, found ${secrets.length}`);
  const [secretId, secret] = secrets[0];
  const props = secret.Properties as { Name: string; Description?: string; SecretString?: string };
  const sm = new SecretsManagerClient({ region: MOTO_REGION, endpoint: `http://127.0.0.1:${options.port}`, credentials: MOTO_CREDENTIALS });
  const created = await sm.send(new CreateSecretCommand({ Name: props.Name, Description: props.Description, SecretString: props.SecretString }));
  sm.destroy();
  const secretArn = created.ARN ?? '';
  delete template.Resources[secretId];
  let text = JSON.stringify(template).split(JSON.stringify({ Ref: secretId })).join(JSON.stringify(secretArn));
  patches.push(`${secretId}: created through the Secrets Manager API as ${props.Name} and referred to by ARN (moto's CloudFormation has no AWS::SecretsManager::Secret)`);

  const macKeys = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::KMS::Key' && r.Properties?.KeySpec === 'HMAC_256');
  if (macKeys.length !== 1) throw new Error(`expected one HMAC_256 key in ${stackName}, found ${macKeys.length}`);
  const [macId, mac] = macKeys[0];
  const macProps = mac.Properties as { Description?: string; KeySpec: 'HMAC_256'; KeyUsage: 'GENERATE_VERIFY_MAC' };
  const kms = new KMSClient({ region: MOTO_REGION, endpoint: `http://127.0.0.1:${options.port}`, credentials: MOTO_CREDENTIALS });
  const macKey = await kms.send(new CreateKeyCommand({ Description: macProps.Description, KeySpec: macProps.KeySpec, KeyUsage: macProps.KeyUsage }));
  kms.destroy();
  const manifestMacKeyArn = macKey.KeyMetadata?.Arn ?? '';
  text = text.split(JSON.stringify({ 'Fn::GetAtt': [macId, 'Arn'] })).join(JSON.stringify(manifestMacKeyArn));
  const patched = JSON.parse(text) as CfnTemplate;
  delete patched.Resources[macId];
  if (JSON.stringify(patched).includes(`"${macId}"`)) throw new Error(`${macId} is still referred to after the patch`);
  patches.push(`${macId}: created through the KMS API as an HMAC_256 key and referred to by ARN (moto's CloudFormation ignores KeySpec)`);
  writeFileSync(templatePath, JSON.stringify(patched, null, 1));

  log(`cdk bootstrap aws://${MOTO_ACCOUNT}/${MOTO_REGION} on ${env.AWS_ENDPOINT_URL}`);
  await cdk(['bootstrap', `aws://${MOTO_ACCOUNT}/${MOTO_REGION}`, '--app', outdir], env);
  const outputsFile = join(outdir, 'outputs.json');
  log(`cdk deploy ${stackName}`);
  await cdk(['deploy', stackName, '--app', outdir, '--exclusively', '--require-approval', 'never', '--outputs-file', outputsFile], env);
  const outputs = (JSON.parse(readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>)[stackName] ?? {};
  return { stackName, outputs, patches, secretArn, manifestMacKeyArn, assemblyDir: outdir };
}

/** Logical id to physical id of a stack's resources, read with CloudFormation's ListStackResources. */
export async function stackResources(port: number, stackName: string): Promise<Record<string, { type: string; physicalId: string; status: string }>> {
  // No CloudFormation SDK client in this project: one query-protocol call, parsed by hand.
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=${MOTO_CREDENTIALS.accessKeyId}/20260101/${MOTO_REGION}/cloudformation/aws4_request, SignedHeaders=host, Signature=unsigned`,
    },
    body: new URLSearchParams({ Action: 'ListStackResources', StackName: stackName, Version: '2010-05-15' }).toString(),
  });
  const xml = await res.text();
  if (!res.ok) throw new Error(`ListStackResources ${stackName}: HTTP ${res.status}: ${xml.slice(0, 500)}`);
  const field = (member: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(member)?.[1] ?? '';
  const out: Record<string, { type: string; physicalId: string; status: string }> = {};
  for (const member of xml.split('<member>').slice(1)) {
    const id = field(member, 'LogicalResourceId');
    if (id) out[id] = { type: field(member, 'ResourceType'), physicalId: field(member, 'PhysicalResourceId'), status: field(member, 'ResourceStatus') };
  }
  return out;
}
