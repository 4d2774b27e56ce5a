import { Readable } from 'node:stream';
import { KMSClient } from '@aws-sdk/client-kms';
import { KeyProviderError, KeyProviderFailure } from '../../../client/keys/errors';
import { KmsKeyProvider } from '../../../client/keys/kmsKeyProvider';

/**
 * The real SDK stack (serialization, retries, credential resolution) under a fake HTTP handler,
 * so the errors KmsKeyProvider maps are the ones the SDK really throws, after its own retries.
 */

const context = { app: 'shop', environment: 'dev', keyId: 'k1' };
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' };

function clientAnswering(respond: () => { statusCode: number; type: string } | Error, maxAttempts: number) {
  let requests = 0;
  const client = new KMSClient({
    region: 'us-east-1',
    credentials,
    maxAttempts,
    requestHandler: {
      handle: async () => {
        requests += 1;
        const answer = respond();
        if (answer instanceof Error) throw answer;
        const body = JSON.stringify({ __type: answer.type, message: `${answer.type} from the fake endpoint` });
        return {
          response: {
            statusCode: answer.statusCode,
            reason: 'fake',
            headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': answer.type, 'x-amzn-requestid': 'req-1' },
            body: Readable.from([Buffer.from(body)]),
          },
        };
      },
    },
  });
  return { client, requests: () => requests };
}

describe('KmsKeyProvider with the real SDK stack', () => {
  it('reports throttling only after the SDK has retried it', async () => {
    const { client, requests } = clientAnswering(() => ({ statusCode: 400, type: 'ThrottlingException' }), 2);
    const provider = new KmsKeyProvider({ keyId: 'alias/cv', client });
    const error = (await provider.generateDataKey(context).catch((e: unknown) => e)) as KeyProviderError;
    expect(requests()).toBe(2);
    expect(error).toBeInstanceOf(KeyProviderError);
    expect(error.failure).toBe(KeyProviderFailure.throttled);
  });

  it('maps an AccessDeniedException response, without retrying it, to the missing action', async () => {
    const { client, requests } = clientAnswering(() => ({ statusCode: 400, type: 'AccessDeniedException' }), 3);
    const keyArn = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const provider = new KmsKeyProvider({ keyId: keyArn, client });
    const error = (await provider.unwrap({ provider: 'kms', wrappingKeyRef: keyArn, ciphertext: 'AAAA' }, context).catch((e: unknown) => e)) as KeyProviderError;
    expect(requests()).toBe(1);
    expect(error.message).toBe(`KMS denied kms:Decrypt on key ${keyArn}.`);
  });

  it('names kms:DescribeKey when an alias cannot be resolved to the key it pins', async () => {
    const { client } = clientAnswering(() => ({ statusCode: 400, type: 'AccessDeniedException' }), 3);
    const provider = new KmsKeyProvider({ keyId: 'alias/cv', client });
    const error = (await provider.unwrap({ provider: 'kms', wrappingKeyRef: 'alias/cv', ciphertext: 'AAAA' }, context).catch((e: unknown) => e)) as KeyProviderError;
    expect(error.message).toBe('KMS denied kms:DescribeKey on key alias/cv.');
  });

  it('maps a refused connection to a network failure', async () => {
    const { client } = clientAnswering(() => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' }), 1);
    const provider = new KmsKeyProvider({ keyId: 'alias/cv', client });
    const error = (await provider.generateDataKey(context).catch((e: unknown) => e)) as KeyProviderError;
    expect(error.failure).toBe(KeyProviderFailure.network);
  });

  it('maps missing credentials to a no-credentials failure that says how to configure them', async () => {
    const client = new KMSClient({
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: async () => {
        throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
      },
    });
    const provider = new KmsKeyProvider({ keyId: 'alias/cv', client });
    const error = (await provider.generateDataKey(context).catch((e: unknown) => e)) as KeyProviderError;
    expect(error.failure).toBe(KeyProviderFailure.noCredentials);
    expect(error.hint).toMatch(/AWS credentials/);
  });
});
