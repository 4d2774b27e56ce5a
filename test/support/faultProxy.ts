/**
 * A loopback HTTP proxy in front of moto_server that can fail the way a network does: cut
 * entirely (listening socket closed, open connections destroyed: ECONNREFUSED/ECONNRESET), or,
 * for one API operation (`X-Amz-Target`, e.g. `secretsmanager.PutSecretValue`), refuse the
 * request before the server sees it or forward it and then lose the response (the server did
 * the work; the caller sees a dropped connection). The SDK's own retries meet the same fault.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode = 'refuse' | 'lose-response';

export class FaultProxy {
  /** Requests that reached the proxy, by X-Amz-Target (or `METHOD path` without one). */
  readonly seen: string[] = [];
  /** Requests a fault was applied to. */
  readonly faulted: string[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly faults = new Map<string, FaultMode>();
  private port = 0;

  /** `upstream` may be a function, read when the first request is forwarded. */
  constructor(private readonly upstream: string | (() => string)) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get isCut(): boolean {
    return this.server === undefined;
  }

  async start(): Promise<void> {
    await this.listen(0);
  }

  /** Fails every request for `target` with `mode` until `heal()`. */
  fail(target: string, mode: FaultMode): void {
    this.faults.set(target, mode);
  }

  heal(): void {
    this.faults.clear();
  }

  /** The network goes away: nothing listens on the port and open connections are reset. */
  async cut(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /** The network comes back on the same port. */
  async restore(): Promise<void> {
    if (this.server) return;
    await this.listen(this.port);
  }

  async stop(): Promise<void> {
    await this.cut();
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? `${req.method} ${req.url}`);
      this.seen.push(target);
      const mode = this.faults.get(target);
      if (mode) this.faulted.push(target);
      if (mode === 'refuse') {
        req.socket.destroy();
        return;
      }
      const url = new URL(req.url ?? '/', typeof this.upstream === 'string' ? this.upstream : this.upstream());
      const upstream = request(
        url,
        { method: req.method, headers: { ...req.headers, host: url.host } },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (c: Buffer) => body.push(c));
          answer.on('end', () => {
            if (mode === 'lose-response') {
              req.socket.destroy();
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      upstream.on('error', () => req.socket.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  }
}
