import { emfProblems } from '../support/emfSpec';
import { runExample } from '../support/runExample';

/** The metrics examples of docs/integrations.md (examples/otel, examples/emf), run as a reader runs them. */
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
