// Test servers and what tests send to servers or to the login's loopback listener:
//   - startServer: a small real HTTP (or HTTPS) server whose handler a test chooses, on 127.0.0.1
//     or another loopback address, closed together with every connection to it;
//   - httpRequest: one HTTP(S) request on a fresh connection, no redirect followed, with control
//     over method, request target (sent as is), Host, the address connected to and the trusted CA;
//   - raw: bytes on a socket, for requests no HTTP client would send;
//   - listenerPort: the loopback listener's port, read from a sign-in URL.
// A browser that follows redirects and fills in forms is the ScriptedUserAgent (user-agent.ts).
import {
  createServer as createHttpServer,
  request as httpClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer, request as httpsClientRequest } from "node:https";
import { connect, type AddressInfo } from "node:net";

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface ServerOptions {
  /** Serve https with this key and certificate. */
  tls?: { key: string; cert: string };
  /** Loopback address to listen on. @default "127.0.0.1" */
  host?: string;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>` (or https, or the host listened on), without a trailing slash. */
  url: string;
  port: number;
  server: Server;
  /** Closes the server and every connection to it. */
  close(): Promise<void>;
}

/** A tiny real HTTP(S) server whose handler a test chooses (faulty endpoints and the like). */
export async function startServer(handler: Handler, options: ServerOptions = {}): Promise<TestServer> {
  const server: Server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createHttpServer(handler);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RequestOptions {
  /** @default "GET" */
  method?: string;
  /** The request target, sent as is (a URL would normalise `/callback/../admin`). @default the URL's path and query */
  path?: string;
  /** Request headers; `host` replaces the URL's host. */
  headers?: OutgoingHttpHeaders;
  /** Connect to ::1 (6), whatever the URL's host; with 4 or by default, `localhost` is 127.0.0.1. */
  family?: 4 | 6;
  /** Trust this certificate authority (https). */
  ca?: string;
}

/** One request on a fresh connection (no redirect followed): status, headers and body. */
export function httpRequest(url: string | URL, options: RequestOptions = {}): Promise<Reply> {
  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsClientRequest : httpClientRequest;
  const host = options.family === 6 ? "::1" : target.hostname === "localhost" ? "127.0.0.1" : target.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host,
        port: target.port,
        path: options.path ?? `${target.pathname}${target.search}`,
        method: options.method ?? "GET",
        headers: { host: target.host, ...options.headers },
        agent: false,
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

export interface RawReply {
  /** Status of the first response, undefined when none came back. */
  status: number | undefined;
  /** Everything received, as latin1 text. */
  text: string;
  /** The server closed the connection (rather than our timeout). */
  closedByServer: boolean;
}

/** Sends bytes on a fresh connection to 127.0.0.1 (or ::1) and reads until the server closes it (or `waitMs`). */
export function raw(port: number, data: string | Buffer, options: { family?: 4 | 6; waitMs?: number } = {}): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: options.family === 6 ? "::1" : "127.0.0.1" });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closedByServer: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString("latin1");
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), text, closedByServer });
    };
    const timer = setTimeout(() => finish(false), options.waitMs ?? 3000);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
    socket.write(data);
  });
}

/** The loopback listener's port, from the redirect_uri of a sign-in (authorization) URL. */
export function listenerPort(authorizationUrl: string | URL): number {
  return Number(new URL(new URL(authorizationUrl).searchParams.get("redirect_uri")!).port);
}
