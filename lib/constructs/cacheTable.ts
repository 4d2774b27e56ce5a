import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TableSchema } from '../../client/schema/tableSchema';
import type { TableBilling } from '../parameters';
import type { AlarmTopic } from './alarmTopic';

export interface CacheTableProps {
  readonly tableName: string;
  readonly billing: TableBilling;
  readonly encryptionKey: kms.IKey;
  /** RETAIN also turns on deletion protection. */
  readonly removalPolicy: RemovalPolicy;
  readonly alarms: AlarmTopic;
}

/** Operations the client issues; the throttle and system-error alarms watch all of them. */
const CLIENT_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.BATCH_GET_ITEM,
  dynamodb.Operation.PUT_ITEM,
  dynamodb.Operation.BATCH_WRITE_ITEM,
  dynamodb.Operation.DELETE_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.QUERY,
  dynamodb.Operation.SCAN,
] as const;

/**
 * The shared cache table, laid out by the client's `TableSchema` (the one definition the
 * DynamoDBBackend and TableManager also use), with its throttling and system-error alarms.
 */
export class CacheTable extends Construct {
  public readonly table: dynamodb.Table;
  public readonly throttledRequests: cloudwatch.IMetric;
  public readonly systemErrors: cloudwatch.IMetric;
  public readonly throttleAlarm: cloudwatch.Alarm;
  public readonly systemErrorAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CacheTableProps) {
    super(scope, id);
    const provisioned = props.billing.mode === 'PROVISIONED';
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: TableSchema.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TableSchema.sortKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: TableSchema.ttlAttribute,
      billingMode: provisioned ? dynamodb.BillingMode.PROVISIONED : dynamodb.BillingMode.PAY_PER_REQUEST,
      readCapacity: props.billing.readCapacity,
      writeCapacity: props.billing.writeCapacity,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy,
      deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
    });

    const period = Duration.minutes(5);
    this.throttledRequests = this.table.metricThrottledRequestsForOperations({ operations: [...CLIENT_OPERATIONS], period });
    this.systemErrors = this.table.metricSystemErrorsForOperations({ operations: [...CLIENT_OPERATIONS], period });

    // Throttling shows up as latency first (the SDK retries); sustained throttling means the
    // capacity or a hot partition key needs attention, so alarm on two periods in a row.
    this.throttleAlarm = props.alarms.notify(
      new cloudwatch.Alarm(this, 'ThrottledRequestsAlarm', {
        alarmDescription: `DynamoDB is throttling requests to ${props.tableName}. See docs/operations.md#dynamodb-throttled-requests.`,
        metric: this.throttledRequests,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.systemErrorAlarm = props.alarms.notify(
      new cloudwatch.Alarm(this, 'SystemErrorsAlarm', {
        alarmDescription: `DynamoDB returned 5xx system errors for ${props.tableName}. See docs/operations.md#dynamodb-system-errors.`,
        metric: this.systemErrors,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}
