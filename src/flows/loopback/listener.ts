import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { LoginError } from "../../errors.js";
import type { RedirectTarget } from "../../options/types.js";
import { CallbackRoutes, type LaunchTarget, type PageOutcome } from "./routes.js";

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
  /** A single-use address on the listener that redirects to `target` (the authorization URL). */
  launcher(target: LaunchTarget): string;
  /** Shows the outcome on the result page (waiting briefly for the browser to ask), then closes. */
  finish(outcome: PageOutcome): Promise<void>;
  /** Closes now: the port is free and every connection dropped when this resolves. */
  close(): Promise<void>;
}

export interface ListenerOptions {
  redirect: RedirectTarget;
  state: string;
  /** Things the user may want to know while waiting ("ignored a callback with an unexpected state"). */
  onEvent?: (message: string) => void;
  /** How long to wait for the browser to fetch the result page after the login ends. @default 1500 */
  resultWaitMs?: number;
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
  const { redirect } = options;
  const resultWaitMs = options.resultWaitMs ?? 1500;
  const routes = new CallbackRoutes({ state: options.state, callbackPath: redirect.path, onEvent: options.onEvent ?? (() => {}) });

  const servers: Server[] = [];
  const makeServer = (): Server => {
    const server = createServer({ requestTimeout: 15_000, headersTimeout: 10_000, keepAliveTimeout: 1 }, routes.handle);
    server.on("clientError", (_error, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      else socket.destroy();
    });
    servers.push(server);
    return server;
  };

  const closeAll = async (): Promise<void> => {
    routes.dropWaiting();
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
  routes.allowHosts(new Set(hostNames.flatMap((name) => (port === 80 ? [name, `${name}:80`] : [`${name}:${port}`]))));
  const redirectUri = `http://${redirect.host}:${port}${redirect.path}${redirect.search}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= closeAll());

  return {
    redirectUri,
    port,
    callback: routes.callback,
    close,
    launcher(target: LaunchTarget): string {
      const path = `/${randomBytes(24).toString("base64url")}`;
      routes.setLauncher(path, target);
      return `http://${redirect.host}:${port}${path}`;
    },
    async finish(outcome: PageOutcome): Promise<void> {
      await routes.finish(outcome, resultWaitMs);
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
