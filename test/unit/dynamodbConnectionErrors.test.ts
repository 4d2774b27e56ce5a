import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCache } from '../../client/createCache';
import { translateDynamoError } from '../../client/dynamodb/errors';

const context = { tableName: 'app-cache', action: 'GetItem' };
const scratch = () => mkdtempSync(join(tmpdir(), 'cv-conn-'));

/** A loopback port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function nodeError(message: string, code: string, extra: object = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

describe('DynamoDB connection, credential and region failures map to their documented codes', () => {
  test.each([
    ['connection refused', nodeError('connect ECONNREFUSED 127.0.0.1:8000', 'ECONNREFUSED', { address: '127.0.0.1', port: 8000 }), 'ENDPOINT_UNREACHABLE'],
    ['DNS failure', nodeError('getaddrinfo ENOTFOUND dynamodb.xx-nowhere-1.amazonaws.com', 'ENOTFOUND', { hostname: 'dynamodb.xx-nowhere-1.amazonaws.com' }), 'ENDPOINT_UNREACHABLE'],
    ['refused on every address (AggregateError)', new AggregateError([nodeError('connect ECONNREFUSED ::1:8000', 'ECONNREFUSED'), nodeError('connect ECONNREFUSED 127.0.0.1:8000', 'ECONNREFUSED')]), 'ENDPOINT_UNREACHABLE'],
    ['request timeout', Object.assign(new Error('Request timed out'), { name: 'TimeoutError' }), 'ENDPOINT_TIMEOUT'],
    ['connect timeout', nodeError('connect ETIMEDOUT 10.0.0.1:443', 'ETIMEDOUT'), 'ENDPOINT_TIMEOUT'],
    ['no credentials', Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), 'AWS_CREDENTIALS_MISSING'],
    ['expired credentials', Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' }), 'AWS_CREDENTIALS_MISSING'],
    ['unknown access key', Object.assign(new Error('The security token included in the request is invalid.'), { name: 'UnrecognizedClientException' }), 'AWS_CREDENTIALS_MISSING'],
    ['no region', new Error('Region is missing'), 'AWS_REGION_MISSING'],
  ])('%s -> %s', (_name, err, code) => {
    const translated = translateDynamoError(err, context) as Error & { code: string; hint: string; cause: unknown };
    expect(translated.code).toBe(code);
    expect(translated.hint).toBeTruthy();
    expect(translated.cause).toBe(err);
  });

  test('a DNS failure hints at the endpoint or the region, a refused connection at starting the service with a command that exists in the app', () => {
    const dns = translateDynamoError(nodeError('getaddrinfo ENOTFOUND x', 'ENOTFOUND'), context) as Error & { hint: string };
    const refused = translateDynamoError(nodeError('connect ECONNREFUSED 127.0.0.1:8000', 'ECONNREFUSED'), context) as Error & { hint: string };
    expect(dns.hint).toContain('dynamodb.region');
    expect(refused.hint).toContain('npx cachevault local');
    expect(refused.hint).not.toContain('npm start');
  });

  test('a table with another key schema is DYNAMODB_TABLE_MISMATCH, not a raw ValidationException', () => {
    const wrongKeys = Object.assign(new Error('The provided key element does not match the schema'), { name: 'ValidationException' });
    expect((translateDynamoError(wrongKeys, context) as unknown as { code: string }).code).toBe('DYNAMODB_TABLE_MISMATCH');
    const otherValidation = Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException' });
    expect((translateDynamoError(otherValidation, context) as unknown as { code: string }).code).toBe('DYNAMODB_ERROR');
  });

  test('service errors that are not about the connection keep their own mapping', () => {
    const notFound = Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' });
    expect((translateDynamoError(notFound, context) as unknown as { code: string }).code).toBe('DYNAMODB_TABLE_NOT_FOUND');
  });

  test('createCache against an endpoint where nothing listens fails with ENDPOINT_UNREACHABLE, not BACKEND_START_FAILED', async () => {
    const port = await closedPort();
    const failure = createCache({
      backend: 'dynamodb',
      dynamodb: { endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1, requestTimeoutMs: 2_000 },
      encryption: { enabled: false },
      audit: { enabled: false },
      cwd: scratch(),
      env: {},
    });
    await expect(failure).rejects.toMatchObject({ code: 'ENDPOINT_UNREACHABLE' });
    const err = (await failure.catch((e: unknown) => e)) as { message: string; hint: string };
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.hint).toContain('fallback');
  });
});
