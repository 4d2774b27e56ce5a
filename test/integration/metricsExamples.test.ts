import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { emfProblems } from '../support/emfSpec';

/**
 * The metrics examples of docs/integrations.md (examples/otel, examples/emf) run as a reader runs
 * them: `node examples/...` against the built package (they import `cachevault` by name, which
 * resolves to this package), on a machine with no keyring and a key in CACHEVAULT_KEY. Needs
 * dist/ (`npm test` builds first).
 */
const root = resolve(__dirname, '../..');

function runExample(file: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cv-example-'));
  return execFileSync(process.execPath, [join(root, 'examples', file)], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      XDG_CACHE_HOME: join(dir, '.cache'),
      DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent',
      CACHEVAULT_KEY: randomBytes(32).toString('base64'),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
}

const documents = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the metrics examples', () => {
  test('examples/otel/metrics.mjs records hits, misses, sets and timed calls through the OpenTelemetry SDK', () => {
    expect(runExample('otel/metrics.mjs').trim()).toBe('hits=2 misses=2 hitRatio=0.50 sets=2 timedCalls=6');
  });

  test('examples/emf/process.mjs writes one valid EMF document on stdout', () => {
    const docs = documents(runExample('emf/process.mjs'));
    expect(docs).toHaveLength(1);
    expect(emfProblems(docs[0])).toEqual([]);
    expect(docs[0]).toMatchObject({ Service: 'checkout', Sets: 1, Hits: 1, 'Hits.memory': 1, Misses: 1 });
  });

  test('examples/emf/lambda.mjs publishes the cache metrics with the handler metrics, one valid document per invocation', () => {
    const docs = documents(runExample('emf/lambda.mjs'));
    expect(docs).toHaveLength(2);
    for (const doc of docs) expect(emfProblems(doc)).toEqual([]);
    expect(docs[0]).toMatchObject({ service: 'checkout', Lookups: 1, Misses: 1, Sets: 1 });
    expect(docs[1]).toMatchObject({ service: 'checkout', Lookups: 1, Hits: 1, 'Hits.memory': 1 });
    expect(docs[1]!.Misses).toBeUndefined();
  });
});
