/**
 * A loopback HTTP endpoint that speaks the Lambda Invoke API for named handlers, so code that
 * invokes a function through the AWS SDK (rotate-keys starting migrate, migrate continuing
 * itself) reaches a real handler in this process. moto's Lambda needs Docker to run code, which
 * these machines lack. `Event` invocations answer 202 and run queued, one at a time, as Lambda's
 * async queue would; `RequestResponse` runs inline.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type InvokedHandler = (event: unknown) => Promise<unknown>;

export interface Invocation {
  readonly functionName: string;
  readonly invocationType: string;
  readonly event: unknown;
  /** Resolves with the handler's result, or its error, once it ran. */
  readonly done: Promise<{ ok: true; result: unknown } | { ok: false; error: unknown }>;
}

export class LocalLambdaEndpoint {
  readonly invocations: Invocation[] = [];
  private readonly handlers = new Map<string, InvokedHandler>();
  private server: Server | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private port = 0;

  /** Registers `handler` under a function name (or ARN) as the SDK sends it. */
  register(functionName: string, handler: InvokedHandler): void {
    this.handlers.set(functionName, handler);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '');
        const name = match ? decodeURIComponent(match[1]) : '';
        const handler = this.handlers.get(name);
        if (!match || !handler) {
          res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
          res.end(JSON.stringify({ __type: 'ResourceNotFoundException', Message: `Function not found: ${name}` }));
          return;
        }
        const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
        const event: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
        const run = (): Promise<{ ok: true; result: unknown } | { ok: false; error: unknown }> =>
          handler(event).then(
            (result) => ({ ok: true as const, result }),
            (error: unknown) => ({ ok: false as const, error }),
          );
        if (type === 'Event') {
          const done = this.queue.then(run);
          this.queue = done;
          this.invocations.push({ functionName: name, invocationType: type, event, done });
          res.writeHead(202);
          res.end();
          return;
        }
        const done = run();
        this.invocations.push({ functionName: name, invocationType: type, event, done });
        void done.then((outcome) => {
          const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' };
          if (!outcome.ok) headers['x-amz-function-error'] = 'Unhandled';
          res.writeHead(200, headers);
          res.end(JSON.stringify(outcome.ok ? (outcome.result ?? null) : { errorMessage: String((outcome.error as Error)?.message ?? outcome.error) }));
        });
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Waits until every queued `Event` invocation (including ones they started) has run. */
  async drain(): Promise<void> {
    for (;;) {
      const seen = this.invocations.length;
      await Promise.all(this.invocations.map((i) => i.done));
      if (this.invocations.length === seen) return;
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
