import { createServer, type Server, type Socket } from 'node:net';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoDBClient } from '../../client/dynamodb/dynamodbClient';

describe('createDynamoDBClient()', () => {
  let server: Server;
  let port: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    // A loopback endpoint that accepts connections and never answers: a hung shared tier.
    server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test('a request to an endpoint that never answers fails after requestTimeoutMs instead of hanging', async () => {
    const client = createDynamoDBClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, requestTimeoutMs: 200, maxAttempts: 1 });
    try {
      await expect(client.send(new ListTablesCommand({}))).rejects.toThrow(/timeout|timed out/i);
    } finally {
      client.destroy();
    }
  });

  test('a loopback endpoint without configured credentials gets placeholder ones', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, profile: process.env.AWS_PROFILE };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_PROFILE;
    try {
      const client = createDynamoDBClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}` });
      expect((await client.config.credentials()).accessKeyId).toBe('local');
      client.destroy();
    } finally {
      if (saved.id !== undefined) process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.profile !== undefined) process.env.AWS_PROFILE = saved.profile;
    }
  });

  test('explicit credentials are used as given', async () => {
    const client = createDynamoDBClient({
      region: 'eu-west-1',
      endpoint: 'https://dynamodb.eu-west-1.amazonaws.com',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
    expect((await client.config.credentials()).accessKeyId).toBe('AKIDEXAMPLE');
    expect(await client.config.region()).toBe('eu-west-1');
    client.destroy();
  });
});
