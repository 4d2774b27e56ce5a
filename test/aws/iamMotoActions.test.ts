/**
 * Rows of the permission matrix that moto can confirm on its own: with INITIAL_NO_AUTH_ACTION_COUNT
 * it checks the signature and the IAM action (not the resource or conditions) of every request
 * after the first N. Two IAM users get the synthesized dev template's read-only and read-write
 * client policies (resources widened to "*", see below); their requests to moto's Secrets Manager
 * and DynamoDB are allowed or denied by moto's own evaluation of the actions. Resources and
 * conditions are the iam-simulate matrix's part (iamMatrix.test.ts). This file runs its own
 * moto_server (the setting applies to every request).
 */
import { Readable } from 'node:stream';
import { DynamoDBClient, GetItemCommand, PutItemCommand, CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MOTO_ACCOUNT, MOTO_CREDENTIALS, MOTO_REGION, startMotoServer, type MotoServer } from '../support/motoServer';
import { dataResolveContext, resolveCfn, synthesizeEnvironment, type DataResources } from '../support/synthesizedStacks';

/** Requests before moto starts checking: the setup below makes exactly this many. */
const SETUP_REQUESTS = 10;
let moto: MotoServer;
const users: Record<'read-only' | 'read-write', { accessKeyId: string; secretAccessKey: string }> = {} as never;
let secretArn: string;
const TABLE = 'cachevault-dev';

/** One IAM query-protocol call (no IAM SDK client in this project), unsigned: setup runs before checks start. */
async function iam(params: Record<string, string>): Promise<string> {
  const res = await fetch(`${moto.loopbackEndpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=${MOTO_CREDENTIALS.accessKeyId}/20260101/${MOTO_REGION}/iam/aws4_request, SignedHeaders=host, Signature=unsigned`,
    },
    body: new URLSearchParams({ ...params, Version: '2010-05-08' }).toString(),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`IAM ${params.Action}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return text;
}
const xmlField = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1] ?? '';

const lastBody = new Map<object, string>();
type Credentials = { accessKeyId: string; secretAccessKey: string };
type RawResponse = { response: { statusCode: number; body: AsyncIterable<Uint8Array> } };

/** Keeps each response body (moto's XML errors) where errorCode() can read it. */
function keepBodies(c: object, stack: unknown): void {
  (stack as { add(mw: unknown, options: object): void }).add(
    (next: (args: unknown) => Promise<RawResponse>) => async (args: unknown) => {
      const out = await next(args);
      const chunks: Buffer[] = [];
      for await (const chunk of out.response.body) chunks.push(Buffer.from(chunk));
      const text = Buffer.concat(chunks).toString('utf8');
      lastBody.set(c, text);
      (out.response as { body: unknown }).body = Readable.from([Buffer.from(text)]);
      return out;
    },
    { step: 'deserialize', priority: 'low', name: 'keepBody' },
  );
}
const config = (credentials: Credentials) => ({ region: MOTO_REGION, endpoint: moto.loopbackEndpoint, credentials, maxAttempts: 1 });
function smClient(credentials: Credentials): SecretsManagerClient {
  const c = new SecretsManagerClient(config(credentials));
  keepBodies(c, c.middlewareStack);
  return c;
}
function ddbClient(credentials: Credentials): DynamoDBClient {
  const c = new DynamoDBClient(config(credentials));
  keepBodies(c, c.middlewareStack);
  return c;
}

beforeAll(async () => {
  moto = await startMotoServer({ env: { INITIAL_NO_AUTH_ACTION_COUNT: String(SETUP_REQUESTS) } });
  const admin = { sm: smClient(MOTO_CREDENTIALS), ddb: ddbClient(MOTO_CREDENTIALS) };
  secretArn = (await admin.sm.send(new CreateSecretCommand({ Name: 'cachevault/cachevault/dev/key-manifest', SecretString: '{}' }))).ARN ?? ''; // 1
  await admin.ddb.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  ); // 2
  admin.sm.destroy();
  admin.ddb.destroy();

  const synth = synthesizeEnvironment('dev');
  const data: DataResources = {
    region: MOTO_REGION,
    account: MOTO_ACCOUNT,
    tableName: TABLE,
    tableArn: `arn:aws:dynamodb:${MOTO_REGION}:${MOTO_ACCOUNT}:table/${TABLE}`,
    secretArn,
    wrappingKeyArn: `arn:aws:kms:${MOTO_REGION}:${MOTO_ACCOUNT}:key/11111111-1111-4111-8111-111111111111`,
    storageKeyArn: `arn:aws:kms:${MOTO_REGION}:${MOTO_ACCOUNT}:key/22222222-2222-4222-8222-222222222222`,
    manifestMacKeyArn: `arn:aws:kms:${MOTO_REGION}:${MOTO_ACCOUNT}:key/44444444-4444-4444-8444-444444444444`,
  };
  const ctx = dataResolveContext(synth, data);
  for (const [name, description] of [
    ['read-only', /read cache entries and unwrap/],
    ['read-write', /read and write cache entries/],
  ] as const) {
    const policy = Object.values(synth.data.Resources).find((r) => r.Type === 'AWS::IAM::ManagedPolicy' && description.test(String(r.Properties?.Description)));
    // moto evaluates every statement against the resource "*" (it checks actions only), so a
    // statement scoped to the table or secret never matches there. The document is the template's
    // with each Resource widened to "*": what moto then decides is the actions' part alone.
    const resolved = resolveCfn(policy?.Properties?.PolicyDocument, ctx) as { Statement: Array<Record<string, unknown>> };
    const document = JSON.stringify({ ...resolved, Statement: resolved.Statement.map((st) => ({ ...st, Resource: '*' })) });
    const policyArn = xmlField(await iam({ Action: 'CreatePolicy', PolicyName: `cachevault-dev-${name}`, PolicyDocument: document }), 'Arn'); // 3, 7
    await iam({ Action: 'CreateUser', UserName: `app-${name}` }); // 4, 8
    await iam({ Action: 'AttachUserPolicy', UserName: `app-${name}`, PolicyArn: policyArn }); // 5, 9
    const key = await iam({ Action: 'CreateAccessKey', UserName: `app-${name}` }); // 6, 10
    users[name] = { accessKeyId: xmlField(key, 'AccessKeyId'), secretAccessKey: xmlField(key, 'SecretAccessKey') };
  }
});
afterAll(async () => {
  await moto?.stop();
});

/**
 * moto answers a refused request with an XML error body even on these JSON APIs (AWS answers
 * JSON), which the SDK cannot parse; the error code is read from the body it keeps.
 */
function errorCode(e: { name?: string }, c: object): string {
  const xmlCode = /<Code>([^<]+)<\/Code>/.exec(lastBody.get(c) ?? '')?.[1];
  return xmlCode ?? e.name ?? 'unknown';
}
const outcome = (c: object, p: Promise<unknown>) =>
  p.then(
    () => 'allow',
    (e: { name?: string }) => (/^AccessDenied/.test(errorCode(e, c)) ? 'deny' : `error ${errorCode(e, c)}`),
  );
const item = { pk: { S: 'default#k' }, sk: { S: 'entry' } };

describe('matrix rows moto checks itself (IAM action evaluation, INITIAL_NO_AUTH_ACTION_COUNT)', () => {
  it('a read-only client may read the manifest and the table, and is denied PutSecretValue and PutItem', async () => {
    const sm = smClient(users['read-only']);
    const ddb = ddbClient(users['read-only']);
    expect({
      getSecret: await outcome(sm, sm.send(new GetSecretValueCommand({ SecretId: secretArn }))),
      putSecret: await outcome(sm, sm.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: '{"forged":true}' }))),
      getItem: await outcome(ddb, ddb.send(new GetItemCommand({ TableName: TABLE, Key: item }))),
      putItem: await outcome(ddb, ddb.send(new PutItemCommand({ TableName: TABLE, Item: item }))),
    }).toEqual({ getSecret: 'allow', putSecret: 'deny', getItem: 'allow', putItem: 'deny' });
    sm.destroy();
    ddb.destroy();
  });

  it('a read-write client may write the table but is still denied PutSecretValue', async () => {
    const sm = smClient(users['read-write']);
    const ddb = ddbClient(users['read-write']);
    expect({
      putSecret: await outcome(sm, sm.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: '{"forged":true}' }))),
      putItem: await outcome(ddb, ddb.send(new PutItemCommand({ TableName: TABLE, Item: item }))),
    }).toEqual({ putSecret: 'deny', putItem: 'allow' });
    sm.destroy();
    ddb.destroy();
  });

  it('moto checks at all: unknown credentials are refused', async () => {
    const sm = smClient({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x'.repeat(40) });
    const refused = await sm.send(new GetSecretValueCommand({ SecretId: secretArn })).then(
      () => 'allowed',
      (e: { name?: string }) => errorCode(e, sm),
    );
    expect(refused).toBe('InvalidClientTokenId');
    sm.destroy();
  });
});
