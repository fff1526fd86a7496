import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RedirectTarget } from "../../options/config.js";
import { LoginError } from "../../errors.js";
import { PAGE_HEADERS, failedPage, signedInPage, staleCallbackPage } from "./pages.js";

/**
 * The transient loopback listener of one login (RFC 8252 §7.3). It accepts exactly one callback:
 * a GET on the exact redirect path whose `state` matches. Everything else gets a small 4xx and
 * does not disturb the login: a stale tab or a local process cannot end it. After the genuine
 * callback it redirects (303) to a clean result URL, so the code leaves the address bar and the
 * history, and answers that URL once the login's outcome is known.
 */
export interface CallbackListener {
  /** The redirect URI to send, with the real port. */
  readonly redirectUri: string;
  readonly port: number;
  /** Resolves with the parameters of the genuine callback (the right `state`). */
  readonly callback: Promise<URLSearchParams>;
  /** Shows the outcome on the result page (waiting briefly for the browser to ask), then closes. */
  finish(outcome: PageOutcome): Promise<void>;
  /** Closes now: the port is free and every connection dropped when this resolves. */
  close(): Promise<void>;
}

export type PageOutcome = { ok: true; issuer: string } | { ok: false; message: string };

export interface ListenerOptions {
  redirect: RedirectTarget;
  state: string;
  /** Things the user may want to know while waiting ("ignored a callback with an unexpected state"). */
  onEvent?: (message: string) => void;
  /** How long to wait for the browser to fetch the result page after the login ends. @default 1500 */
  resultWaitMs?: number;
}

const TEXT_HEADERS = { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", Connection: "close" };

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once("error", onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      server.closeAllConnections();
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startListener(options: ListenerOptions): Promise<CallbackListener> {
  const { redirect, state } = options;
  const onEvent = options.onEvent ?? (() => {});
  const resultWaitMs = options.resultWaitMs ?? 1500;
  const callbackPath = redirect.path;
  const resultPath = callbackPath === "/signed-in" ? "/sign-in-result" : "/signed-in";

  let resolveCallback!: (params: URLSearchParams) => void;
  const callback = new Promise<URLSearchParams>((resolve) => (resolveCallback = resolve));
  let received = false;
  let outcome: PageOutcome | undefined;
  let resultServed = false;
  let onResultServed: (() => void) | undefined;
  const waiting: ServerResponse[] = [];
  let allowedHosts = new Set<string>();

  const send = (res: ServerResponse, status: number, headers: Record<string, string>, body: string): void => {
    res.writeHead(status, { ...headers, "Content-Length": String(Buffer.byteLength(body)) });
    res.end(body);
  };

  const serveResult = (res: ServerResponse): void => {
    const result = outcome!;
    send(res, result.ok ? 200 : 400, PAGE_HEADERS, result.ok ? signedInPage(result.issuer) : failedPage(result.message));
    resultServed = true;
    onResultServed?.();
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const host = (req.headers.host ?? "").toLowerCase();
    if (!allowedHosts.has(host)) {
      // DNS rebinding: a page on another name resolving to 127.0.0.1 sends its own Host.
      send(res, 421, TEXT_HEADERS, "Misdirected request.\n");
      onEvent("refused a request for another host name");
      return;
    }
    let url: URL;
    try {
      // Origin-form only ("/path?query"). Resolved against a base, an absolute-form target
      // ("http://evil.example/callback") would be read as its path, and "//evil.example/callback"
      // as a host name plus "/callback": both are refused rather than taken for the callback.
      const target = req.url ?? "";
      if (!target.startsWith("/")) throw new TypeError("not origin-form");
      url = new URL(`http://127.0.0.1${target}`);
    } catch {
      send(res, 400, TEXT_HEADERS, "Bad request.\n");
      return;
    }
    if (url.pathname === resultPath && received) {
      if (req.method !== "GET") {
        send(res, 405, { ...TEXT_HEADERS, Allow: "GET" }, "Method not allowed.\n");
      } else if (outcome) {
        serveResult(res);
      } else {
        waiting.push(res);
      }
      return;
    }
    if (url.pathname !== callbackPath) {
      send(res, 404, TEXT_HEADERS, "Not found.\n");
      return;
    }
    if (req.method !== "GET") {
      send(res, 405, { ...TEXT_HEADERS, Allow: "GET" }, "Method not allowed.\n");
      onEvent(`ignored a ${String(req.method).slice(0, 10)} request to the callback address`);
      return;
    }
    const states = url.searchParams.getAll("state");
    if (received) {
      send(res, 400, PAGE_HEADERS, staleCallbackPage("This sign-in has already completed."));
      onEvent("ignored a second callback after the first");
      return;
    }
    if (states.length !== 1 || !sameSecret(states[0]!, state)) {
      send(res, 400, PAGE_HEADERS, staleCallbackPage("It does not belong to the sign-in in progress (unexpected state)."));
      onEvent(states.length === 0 ? "ignored a callback without state" : "ignored a callback with an unexpected state");
      return;
    }
    received = true;
    res.writeHead(303, { ...TEXT_HEADERS, Location: resultPath, "Referrer-Policy": "no-referrer", "Content-Length": "0" });
    res.end();
    resolveCallback(url.searchParams);
  };

  const servers: Server[] = [];
  const makeServer = (): Server => {
    const server = createServer({ requestTimeout: 15_000, headersTimeout: 10_000, keepAliveTimeout: 1 }, handle);
    server.on("clientError", (_error, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      else socket.destroy();
    });
    servers.push(server);
    return server;
  };

  const closeAll = async (): Promise<void> => {
    for (const res of waiting.splice(0)) res.destroy();
    await Promise.all(servers.map(closeServer));
  };

  let port: number;
  try {
    port = await bind(redirect, makeServer, servers);
  } catch (error) {
    await closeAll();
    throw bindError(error, redirect);
  }
  const hostNames = redirect.host === "localhost" ? ["localhost", "127.0.0.1", "[::1]"] : [redirect.host];
  allowedHosts = new Set(hostNames.flatMap((name) => (port === 80 ? [name, `${name}:80`] : [`${name}:${port}`])));
  const redirectUri = `http://${redirect.host}:${port}${redirect.path}${redirect.search}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= closeAll());

  return {
    redirectUri,
    port,
    callback,
    close,
    async finish(result: PageOutcome): Promise<void> {
      outcome = result;
      for (const res of waiting.splice(0)) serveResult(res);
      if (received && !resultServed) {
        // The browser follows our 303 within milliseconds; give it a moment, never longer.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, resultWaitMs);
          timer.unref();
          onResultServed = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      await close();
    },
  };
}

async function bind(redirect: RedirectTarget, makeServer: () => Server, servers: Server[]): Promise<number> {
  if (redirect.host !== "localhost") {
    return listen(makeServer(), redirect.host === "[::1]" ? "::1" : "127.0.0.1", redirect.port);
  }
  // `localhost` may resolve to 127.0.0.1 or ::1 in the browser: listen on both, same port.
  for (let attempt = 0; ; attempt++) {
    const port = await listen(makeServer(), "127.0.0.1", redirect.port);
    const v6 = makeServer();
    try {
      await listen(v6, "::1", port);
      return port;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EADDRNOTAVAIL" || code === "EAFNOSUPPORT") {
        servers.splice(servers.indexOf(v6), 1);
        return port; // no IPv6 loopback on this machine
      }
      if (code !== "EADDRINUSE" || redirect.port !== 0 || attempt >= 5) throw error;
      // Port 0 gave a port free on IPv4 but taken on IPv6: try another one.
      await Promise.all(servers.splice(0).map(closeServer));
    }
  }
}

function bindError(error: unknown, redirect: RedirectTarget): LoginError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") {
    return new LoginError(
      "PORT_IN_USE",
      `Port ${redirect.port} on ${redirect.host} is already in use (another login still running, or another program). ` +
        `Stop that program, or use another port in \`redirectUri\` (and register it at the provider); port 0 picks a free one if the provider allows any port.`,
      { cause: error },
    );
  }
  return new LoginError(
    "LISTENER_FAILED",
    `Could not listen on ${redirect.host}:${redirect.port} for the sign-in redirect (${code ?? (error as Error).message}).` +
      (code === "EACCES" ? " Ports below 1024 need privileges: use a higher port in `redirectUri`." : ""),
    { cause: error },
  );
}
