import type { Template } from 'aws-cdk-lib/assertions';

export interface Statement {
  Action: string | string[];
  Effect: string;
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Statements of every policy of `type` (optionally only those whose Description matches). */
export function policyStatements(template: Template, type: 'AWS::IAM::Policy' | 'AWS::IAM::ManagedPolicy', description?: RegExp): Statement[] {
  return Object.values(template.findResources(type))
    .filter((r) => description === undefined || description.test(String((r as { Properties: { Description?: string } }).Properties.Description)))
    .flatMap((r) => (r as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
}

/** The template with asset hashes replaced, so snapshots change only when resources do. */
export function normalisedTemplate(template: Template): unknown {
  const text = JSON.stringify(template.toJSON()).replace(/[0-9a-f]{64}(\.zip|\.json)?/g, 'ASSET_HASH$1');
  return JSON.parse(text);
}
