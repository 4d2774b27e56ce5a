/**
 * `cachevault/dynamodb`: the DynamoDB tier's classes as values. A separate entry point because
 * these modules load the AWS SDK; `import 'cachevault'` stays light (createCache loads them only
 * when the configuration asks for DynamoDB).
 */
export { DynamoDBBackend, type DynamoDBBackendOptions, type DynamoGcReport } from '../backends/dynamodbBackend';
export { TableManager, type TableManagerOptions, type CreateTableOptions, type TableProblem, type TableSummary, type TtlStatus } from '../dynamodb/tableManager';
export { createDynamoDBClient, type DynamoDBClientOptions } from '../dynamodb/dynamodbClient';
export { DynamoDBLease, type DynamoDBLeaseOptions, type LeaseStats } from '../dynamodb/dynamodbLease';
