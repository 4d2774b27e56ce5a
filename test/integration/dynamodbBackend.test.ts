import { DynamoDBBackend } from '../../client/backends/dynamodbBackend';
import { runBackendContract } from '../contract/backendContract';
import { useDynamoTestTable } from '../support/dynamoTestTable';

const table = useDynamoTestTable('cv-contract');

runBackendContract(
  'dynamodb',
  (ctx) => new DynamoDBBackend({ tableName: table.tableName, client: table.client, clock: ctx.clock }),
  { largeValueBytes: 1024 * 1024 },
);
