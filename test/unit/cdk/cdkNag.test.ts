import { App, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addCacheVaultStacks } from '../../../lib/cacheVaultApp';
import { ENVIRONMENT_NAMES, parametersFor } from '../../../lib/parameters';

const outdirs: string[] = [];
function nagApp(): App {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-nag-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}
afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      // Recorded as { '<kind>::<rule id>': reason }.
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([key, reason]) => ({ path: c.node.path, id: key.replace(/^[A-Za-z]+::/, ''), reason })),
  );
}

describe('cdk-nag AwsSolutions checks', () => {
  it.each(ENVIRONMENT_NAMES)('find nothing unacknowledged in the %s stacks', (env) => {
    const app = nagApp();
    addCacheVaultStacks(app, parametersFor(env));
    expect(() => app.synth()).not.toThrow();
  });

  it('fail the synth for a finding nobody acknowledged (the check above can fail)', () => {
    const app = nagApp();
    const stack = new Stack(app, 'Bad');
    new dynamodb.Table(stack, 'NoBackups', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    expect(() => app.synth()).toThrow(/AwsSolutions-DDB3/);
  });

  it('acknowledge exactly the two findings the stacks cannot avoid, each with its reason', () => {
    const app = nagApp();
    addCacheVaultStacks(app, parametersFor('prod'));
    const acks = acknowledgements(app);
    expect(acks.map((a) => a.id).sort()).toEqual([
      'AwsSolutions-IAM5[Resource::<HealthCheckHealthFunction270D4343.Arn>:*]',
      'AwsSolutions-SMG4',
    ]);
    for (const ack of acks) expect(ack.reason.length).toBeGreaterThan(80);
  });
});
