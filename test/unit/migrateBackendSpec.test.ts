import { BackendSpecError } from '../../client/migrate/errors';
import { describeSpec, parseBackendSpec } from '../../client/migrate/backendSpec';

describe('backend specs', () => {
  test('memory: names the memory backend, with optional bounds', () => {
    expect(parseBackendSpec('memory:')).toEqual({ type: 'memory', config: { backend: 'memory', memory: {} } });
    expect(parseBackendSpec('memory:?maxEntries=500').config).toEqual({ backend: 'memory', memory: { maxEntries: 500 } });
  });

  test('file: resolves a relative directory against cwd and keeps an absolute one', () => {
    expect(parseBackendSpec('file:./cache', { cwd: '/srv/app' }).config).toEqual({ backend: 'file', file: { dir: '/srv/app/cache' } });
    expect(parseBackendSpec('file:/tmp/my%20cache').config).toEqual({ backend: 'file', file: { dir: '/tmp/my cache' } });
    expect(parseBackendSpec('file:/abs/dir?durability=full').config).toEqual({ backend: 'file', file: { dir: '/abs/dir', durability: 'full' } });
  });

  test('dynamodb: takes a table name with region and endpoint', () => {
    expect(parseBackendSpec('dynamodb:my-table?endpoint=http://127.0.0.1:8000&region=us-east-1').config).toEqual({
      backend: 'dynamodb',
      dynamodb: { tableName: 'my-table', endpoint: 'http://127.0.0.1:8000', region: 'us-east-1' },
    });
    expect(parseBackendSpec('dynamodb:t-1?consistentRead=true&chunkBytes=100000').config).toMatchObject({ dynamodb: { consistentRead: true, chunkBytes: 100000 } });
  });

  test.each([
    ['', /empty/],
    ['./cache', /backend type/],
    ['redis:localhost', /unknown backend type "redis"/],
    ['hybrid:', /tier by tier/],
    ['file:', /needs a directory/],
    ['dynamodb:', /needs a table name/],
    ['dynamodb:ab', /tableName/],
    ['dynamodb:t!ble', /tableName/],
    ['file:./x?durability=sometimes', /durability/],
    ['file:./x?maxBytes=lots', /maxBytes must be a whole number/],
    ['file:./x?colour=blue', /unknown parameter "colour".*allowed: durability/],
    ['dynamodb:table?endpoint=not-a-url', /endpoint/],
    ['dynamodb:table?region=a&region=b', /given twice/],
    ['memory:somewhere', /takes no location/],
    ['dynamodb:table?consistentRead=yes', /true or false/],
    ['file:./100%', /malformed %-escape/],
  ])('%j is refused with a reason', (spec, reason) => {
    const err = (() => {
      try {
        parseBackendSpec(spec);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(BackendSpecError);
    expect((err as BackendSpecError).message).toMatch(reason);
    expect((err as BackendSpecError).hint).toMatch(/memory:, file:DIR/);
  });

  test('credentials in an endpoint are refused and never echoed', () => {
    expect(() => parseBackendSpec('dynamodb:table?endpoint=http://AKIDSECRET:hunter2@127.0.0.1:8000')).toThrow(BackendSpecError);
    try {
      parseBackendSpec('dynamodb:table?endpoint=http://AKIDSECRET:hunter2@127.0.0.1:8000');
    } catch (e) {
      expect((e as Error).message).not.toMatch(/hunter2|AKIDSECRET/);
    }
  });

  test('describeSpec gives one canonical description per place, without tuning options', () => {
    expect(describeSpec('file:./c?durability=full', { cwd: '/w' })).toBe('file:/w/c');
    expect(describeSpec('file:/w/c')).toBe('file:/w/c');
    expect(describeSpec('dynamodb:tbl?region=eu-west-1&endpoint=http://127.0.0.1:8000')).toBe(
      describeSpec('dynamodb:tbl?endpoint=http://127.0.0.1:8000&region=eu-west-1&maxAttempts=9'),
    );
    // No region named: the AWS SDK resolves it where the migration runs, so none is claimed here.
    expect(describeSpec('dynamodb:tbl')).toBe('dynamodb:tbl');
    expect(describeSpec('dynamodb:tbl?region=eu-west-1')).toBe('dynamodb:tbl?region=eu-west-1');
    expect(describeSpec('memory:?maxEntries=3')).toBe('memory:');
  });
});
