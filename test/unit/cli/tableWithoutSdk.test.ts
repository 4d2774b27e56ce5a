import type { CliContext } from '../../../client/cli/context';
import { AdvancedCacheConfig } from '../../../client/config/schema';

/**
 * `@aws-sdk/client-dynamodb` is an optional peer dependency: on a file-only install it is absent.
 * The CLI modules that can reach DynamoDB must still load there (every command is registered at
 * start-up), and a command that needs the table must say which package to install.
 */
describe('the CLI where @aws-sdk/client-dynamodb is not installed', () => {
  const config = AdvancedCacheConfig.parse({ dynamodb: { endpoint: 'http://127.0.0.1:9' } });
  const ctx = { config: () => ({ config }) } as unknown as CliContext;

  it('loads the table and maintenance modules, and their DynamoDB commands fail with DEPENDENCY_MISSING naming the package', () => {
    jest.isolateModules(() => {
      jest.doMock('@aws-sdk/client-dynamodb', () => {
        throw Object.assign(new Error("Cannot find module '@aws-sdk/client-dynamodb' from 'client/dynamodb/dynamodbClient.ts'"), { code: 'MODULE_NOT_FOUND' });
      });
      /* eslint-disable @typescript-eslint/no-require-imports */
      const { tableManagerFor } = require('../../../client/cli/commands/table') as typeof import('../../../client/cli/commands/table');
      const { openDynamoTier } = require('../../../client/cli/tierBackends') as typeof import('../../../client/cli/tierBackends');
      require('../../../client/cli/index');
      /* eslint-enable @typescript-eslint/no-require-imports */
      const missing = expect.objectContaining({ code: 'DEPENDENCY_MISSING', packageName: '@aws-sdk/client-dynamodb', hint: expect.stringContaining('npm install @aws-sdk/client-dynamodb') });
      expect(() => tableManagerFor(ctx)).toThrow(missing);
      expect(() => openDynamoTier(config)).toThrow(missing);
    });
  });
});
