import middy from '@middy/core';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { CacheManager } from '../../client/core/cacheManager';
import { DynamoDBLease } from '../../client/dynamodb/dynamodbLease';
import { cacheResponse, httpRequestKey } from '../../client/exports/middy';
import { silentLogger } from '../../client/logger';
import { useDynamoTestTable } from '../support/dynamoTestTable';
import { apiGatewayV1Event, lambdaContext } from '../support/lambdaEvents';

const table = useDynamoTestTable('cv-middy-lease');

/** One Lambda execution environment: its own memory tier and lease client, the shared table behind. */
function environment(handler: () => Promise<APIGatewayProxyResult>) {
  const backend = new HybridBackend({
    tiers: [
      { name: 'memory', backend: new MemoryBackend() },
      { name: 'dynamodb', backend: new DynamoDBBackend({ tableName: table.tableName, client: table.client, consistentRead: true }) },
    ],
  });
  const lease = new DynamoDBLease({ tableName: table.tableName, client: table.client, leaseMs: 5_000, pollMinMs: 10, pollMaxMs: 100 });
  const cache = new CacheManager({ backend, lease, namespace: 'responses' });
  return { lease, fn: middy(handler).use(cacheResponse({ cache, key: httpRequestKey(), ttlMs: 60_000, logger: silentLogger })) };
}

describe('cacheResponse across execution environments, with the DynamoDB lease', () => {
  test('concurrent invocations of one key in two environments run the handler once', async () => {
    let runs = 0;
    const handler = async (): Promise<APIGatewayProxyResult> => {
      runs += 1;
      // A slow backend call: long enough for every other invocation to arrive while it runs.
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ report: 'q1', run: runs }) };
    };
    const a = environment(handler);
    const b = environment(handler);
    const event = apiGatewayV1Event({ path: '/reports/q1' });
    const responses = await Promise.all([
      ...Array.from({ length: 5 }, () => a.fn(event, lambdaContext())),
      ...Array.from({ length: 5 }, () => b.fn(event, lambdaContext())),
    ]);
    expect(runs).toBe(1);
    for (const r of responses) expect(JSON.parse(r.body)).toEqual({ report: 'q1', run: 1 });
    const stats = [a.lease.stats(), b.lease.stats()];
    expect(stats[0]!.acquired + stats[1]!.acquired).toBe(1);
    expect(stats[0]!.waitHits + stats[1]!.waitHits).toBe(1);
  });

  test('when the environment holding the lease fails, the other computes its own once the lease is released', async () => {
    let runs = 0;
    const failing = async (): Promise<APIGatewayProxyResult> => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 200));
      throw new Error('upstream 503');
    };
    const working = async (): Promise<APIGatewayProxyResult> => {
      runs += 1;
      return { statusCode: 200, body: 'ok' };
    };
    const a = environment(failing);
    const b = environment(working);
    const event = apiGatewayV1Event({ path: '/reports/q2' });
    const first = a.fn(event, lambdaContext());
    while (runs === 0) await new Promise((resolve) => setTimeout(resolve, 5)); // until a holds the lease and runs
    const second = b.fn(event, lambdaContext());
    await expect(first).rejects.toThrow('upstream 503');
    expect((await second).body).toBe('ok');
    expect(runs).toBe(2);
    expect(b.lease.stats().contended).toBe(1);
  });
});
