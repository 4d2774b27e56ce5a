/**
 * The stacks as `cdk synth` makes them (cdk.json's context, so cross-stack references are the
 * weak `Fn::GetStackOutput` the CLI emits), and a small resolver for the intrinsics their
 * function environments and policies use, so tests run the handlers with the environment the
 * stack gives each function instead of a hand-written copy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { addCacheVaultStacks } from '../../lib/cacheVaultApp';
import { parametersFor, type EnvironmentName } from '../../lib/parameters';

export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: unknown }>;
  Outputs?: Record<string, { Value: unknown; Export?: unknown; Description?: string }>;
  Parameters?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface SynthesizedEnvironment {
  readonly envName: EnvironmentName;
  readonly dataStackName: string;
  readonly operationsStackName: string;
  readonly data: CfnTemplate;
  readonly operations: CfnTemplate;
}

const ROOT = join(__dirname, '..', '..');
const cache = new Map<EnvironmentName, SynthesizedEnvironment>();

/** Synthesizes one environment's two stacks in-process (no bundling, no cdk-nag), memoized. */
export function synthesizeEnvironment(envName: EnvironmentName): SynthesizedEnvironment {
  const hit = cache.get(envName);
  if (hit) return hit;
  const context = (JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
  const app = new App({ context: { ...context, env: envName, 'aws:cdk:bundling-stacks': [] } });
  const stacks = addCacheVaultStacks(app, parametersFor(envName));
  const assembly = app.synth();
  const result: SynthesizedEnvironment = {
    envName,
    dataStackName: stacks.data.stackName,
    operationsStackName: stacks.operations.stackName,
    data: assembly.getStackByName(stacks.data.stackName).template as CfnTemplate,
    operations: assembly.getStackByName(stacks.operations.stackName).template as CfnTemplate,
  };
  cache.set(envName, result);
  return result;
}

/** What intrinsics resolve to: pseudo parameters, other stacks' outputs, this stack's resources. */
export interface ResolveContext {
  readonly region: string;
  readonly account: string;
  readonly partition?: string;
  /** Stack name to its outputs (`Fn::GetStackOutput`, `Fn::ImportValue` by `Stack:Output`). */
  readonly stackOutputs?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Logical id to what `Ref` gives (physical id/name). */
  readonly refs?: Readonly<Record<string, string>>;
  /** `logicalId.Attribute` to what `Fn::GetAtt` gives. */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Value for a Ref or Fn::GetAtt not listed above (`Ref X` or `X.Attr`); else an error. */
  readonly otherwise?: (what: string) => string;
}

/** Resolves the intrinsics these templates use; throws on anything it does not know. */
export function resolveCfn(value: unknown, ctx: ResolveContext): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => resolveCfn(v, ctx));
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [fn, arg] = entries[0];
    switch (fn) {
      case 'Ref': {
        const name = String(arg);
        const pseudo: Record<string, string> = {
          'AWS::Region': ctx.region,
          'AWS::AccountId': ctx.account,
          'AWS::Partition': ctx.partition ?? 'aws',
          'AWS::URLSuffix': 'amazonaws.com',
        };
        const out = pseudo[name] ?? ctx.refs?.[name] ?? ctx.otherwise?.(name);
        if (out === undefined) throw new Error(`resolveCfn: no value for Ref ${name}`);
        return out;
      }
      case 'Fn::GetAtt': {
        const [id, attr] = arg as [string, string];
        const out = ctx.attributes?.[`${id}.${attr}`] ?? ctx.otherwise?.(`${id}.${attr}`);
        if (out === undefined) throw new Error(`resolveCfn: no value for Fn::GetAtt ${id}.${attr}`);
        return out;
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, unknown[]];
        return parts.map((p) => String(resolveCfn(p, ctx))).join(sep);
      }
      case 'Fn::GetStackOutput': {
        const { StackName, OutputName } = arg as { StackName: string; OutputName: string };
        const out = ctx.stackOutputs?.[StackName]?.[OutputName];
        if (out === undefined) throw new Error(`resolveCfn: stack ${StackName} has no output ${OutputName}`);
        return out;
      }
      case 'Fn::ImportValue': {
        const [stack, output] = String(resolveCfn(arg, ctx)).split(':');
        const out = ctx.stackOutputs?.[stack]?.[output];
        if (out === undefined) throw new Error(`resolveCfn: no export ${String(arg)}`);
        return out;
      }
    }
    if (fn.startsWith('Fn::')) throw new Error(`resolveCfn: ${fn} is not supported`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveCfn(v, ctx)]));
}

/** Logical id of the Lambda function whose Powertools service name is `service` (`cachevault-health`...). */
export function functionLogicalId(template: CfnTemplate, service: string): string {
  const ids = Object.entries(template.Resources).filter(
    ([, r]) =>
      r.Type === 'AWS::Lambda::Function' &&
      (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.POWERTOOLS_SERVICE_NAME === service,
  );
  if (ids.length !== 1) throw new Error(`expected one function for ${service}, found ${ids.length}`);
  return ids[0][0];
}

/** The environment variables the template gives function `service`, resolved. */
export function functionEnvironment(template: CfnTemplate, service: string, ctx: ResolveContext): Record<string, string> {
  const fn = template.Resources[functionLogicalId(template, service)];
  const vars = (fn.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
  return resolveCfn(vars, ctx) as Record<string, string>;
}

/**
 * The Data stack outputs the Operations stack reads, computed from the Data template and the
 * physical ids of its resources (as a deploy reports them).
 */
export function dataStackOutputs(env: SynthesizedEnvironment, physical: ResolveContext): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const [name, output] of Object.entries(env.data.Outputs ?? {})) outputs[name] = String(resolveCfn(output.Value, physical));
  return outputs;
}

/** Physical ids of the Data stack's resources (as a deploy makes them, or as a test creates them). */
export interface DataResources {
  readonly region: string;
  readonly account: string;
  readonly tableName: string;
  readonly tableArn: string;
  readonly secretArn: string;
  readonly wrappingKeyArn: string;
  readonly storageKeyArn: string;
  /** The HMAC_256 key that MACs the key manifest. */
  readonly manifestMacKeyArn: string;
}

function logicalIdOf(template: CfnTemplate, type: string, match: (props: Record<string, unknown>) => boolean = () => true): string {
  const ids = Object.entries(template.Resources).filter(([, r]) => r.Type === type && match(r.Properties ?? {}));
  if (ids.length !== 1) throw new Error(`expected one ${type} in the template, found ${ids.length}`);
  return ids[0][0];
}

/** The resolve context of the Data stack with its resources at `data`'s physical ids. */
export function dataResolveContext(env: SynthesizedEnvironment, data: DataResources): ResolveContext {
  const t = env.data;
  const table = logicalIdOf(t, 'AWS::DynamoDB::Table');
  const secret = logicalIdOf(t, 'AWS::SecretsManager::Secret');
  const wrapping = logicalIdOf(t, 'AWS::KMS::Key', (p) => /wraps/.test(String(p.Description)));
  const storage = logicalIdOf(t, 'AWS::KMS::Key', (p) => /at rest/.test(String(p.Description)));
  const mac = logicalIdOf(t, 'AWS::KMS::Key', (p) => p.KeySpec === 'HMAC_256');
  return {
    region: data.region,
    account: data.account,
    refs: { [table]: data.tableName, [secret]: data.secretArn, [wrapping]: data.wrappingKeyArn, [storage]: data.storageKeyArn, [mac]: data.manifestMacKeyArn },
    attributes: {
      [`${table}.Arn`]: data.tableArn,
      [`${wrapping}.Arn`]: data.wrappingKeyArn,
      [`${storage}.Arn`]: data.storageKeyArn,
      [`${mac}.Arn`]: data.manifestMacKeyArn,
    },
  };
}

/**
 * The environment the Operations stack gives function `service` (`cachevault-health`,
 * `cachevault-rotate-keys`, `cachevault-migrate`) when the Data stack's resources are `data`.
 * Outputs of the Data stack that name resources not given here (alarm ARNs...) are left out.
 */
export function operationsFunctionEnvironment(env: SynthesizedEnvironment, service: string, data: DataResources, functionNames: Record<string, string> = {}): Record<string, string> {
  const dataCtx = dataResolveContext(env, data);
  const outputs: Record<string, string> = {};
  for (const [name, output] of Object.entries(env.data.Outputs ?? {})) {
    try {
      outputs[name] = String(resolveCfn(output.Value, dataCtx));
    } catch {
      // An output about a resource the caller did not create; a reference to it fails below.
    }
  }
  const refs: Record<string, string> = {};
  for (const [svc, name] of Object.entries(functionNames)) refs[functionLogicalId(env.operations, svc)] = name;
  return functionEnvironment(env.operations, service, {
    region: data.region,
    account: data.account,
    stackOutputs: { [env.dataStackName]: outputs },
    refs,
  });
}
