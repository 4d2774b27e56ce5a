import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlarmTopicProps {
  readonly app: string;
  readonly envName: string;
  /** Customer-managed key: CloudWatch cannot publish to a topic under the AWS-managed SNS key. */
  readonly encryptionKey: kms.IKey;
  /** Subscribed by email when given. */
  readonly email?: string;
}

/** The SNS topic every cachevault alarm notifies, encrypted and TLS-only. */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: `cachevault ${props.app}/${props.envName} alarms`,
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    if (props.email !== undefined) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
  }

  /** Sends both the alarm and its recovery to the topic. */
  notify(alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    const action = new cloudwatchActions.SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    return alarm;
  }
}
