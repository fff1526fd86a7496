import type { IncomingMessage, ServerResponse } from "node:http";
import { hasOurState } from "../../protocol/authorization.js";
import { PAGE_HEADERS, failedPage, signedInPage, staleCallbackPage } from "./pages.js";

/** How the sign-in ended, for the result page. */
export type PageOutcome = { ok: true; issuer: string } | { ok: false; message: string };

const TEXT_HEADERS = { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", Connection: "close" };

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { ...headers, "Content-Length": String(Buffer.byteLength(body)) });
  res.end(body);
}

/** Where the launcher sends the browser: an address, or one computed when the link is opened. */
export type LaunchTarget = string | (() => Promise<string>);

/**
 * Where the callback is handled: what the listener answers to each request, by Host, path and
 * method: another Host → 421 (DNS rebinding); the launcher path (random, single use) → 303 to the
 * authorization URL, then 410; the callback path with a GET carrying our `state` → 303 to the
 * result page, once; the result page after that → the outcome; anything else → a small 4xx that
 * leaves the sign-in waiting.
 */
export class CallbackRoutes {
  /** Resolves with the parameters of the genuine callback (the right `state`). */
  readonly callback: Promise<URLSearchParams>;
  readonly #state: string;
  readonly #callbackPath: string;
  readonly #resultPath: string;
  readonly #onEvent: (message: string) => void;
  #resolveCallback!: (params: URLSearchParams) => void;
  #allowedHosts = new Set<string>();
  #received = false;
  #outcome: PageOutcome | undefined;
  #resultServed = false;
  #onResultServed: (() => void) | undefined;
  readonly #waiting: ServerResponse[] = [];
  #launch: { path: string; target: LaunchTarget; used: boolean } | undefined;

  constructor(options: { state: string; callbackPath: string; onEvent: (message: string) => void }) {
    this.#state = options.state;
    this.#callbackPath = options.callbackPath;
    this.#resultPath = options.callbackPath === "/signed-in" ? "/sign-in-result" : "/signed-in";
    this.#onEvent = options.onEvent;
    this.callback = new Promise((resolve) => (this.#resolveCallback = resolve));
  }

  /**
   * The launcher: the notebook's link points here, so that the link (and a notebook saved while it
   * waits) carries no `state`, `nonce` or PKCE challenge. `path` is unguessable; it works once.
   * `target` may be computed when the link is opened (a pushed request renewed if it expired).
   */
  setLauncher(path: string, target: LaunchTarget): void {
    this.#launch = { path, target, used: false };
  }

  /** The Host header values the listener answers to (known once the port is). */
  allowHosts(hosts: Set<string>): void {
    this.#allowedHosts = hosts;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (!this.#allowedHosts.has((req.headers.host ?? "").toLowerCase())) {
      // DNS rebinding: a page on another name resolving to 127.0.0.1 sends its own Host.
      send(res, 421, TEXT_HEADERS, "Misdirected request.\n");
      this.#onEvent("refused a request for another host name");
      return;
    }
    // Origin-form only ("/path?query"). Resolved against a base, an absolute-form target
    // ("http://evil.example/callback") would be read as its path, and "//evil.example/callback"
    // as a host name plus "/callback": both are refused rather than taken for the callback.
    const target = req.url ?? "";
    const url = target.startsWith("/") && URL.canParse(`http://127.0.0.1${target}`) ? new URL(`http://127.0.0.1${target}`) : undefined;
    if (!url) send(res, 400, TEXT_HEADERS, "Bad request.\n");
    else if (this.#launch && url.pathname === this.#launch.path) this.#launcher(req, res, this.#launch);
    else if (url.pathname === this.#resultPath && this.#received) this.#result(req, res);
    else if (url.pathname === this.#callbackPath) this.#callback(req, res, url);
    else send(res, 404, TEXT_HEADERS, "Not found.\n");
  };

  #launcher(req: IncomingMessage, res: ServerResponse, launch: { target: LaunchTarget; used: boolean }): void {
    if (req.method !== "GET") {
      send(res, 405, { ...TEXT_HEADERS, Allow: "GET" }, "Method not allowed.\n");
    } else if (launch.used) {
      send(res, 410, TEXT_HEADERS, "This sign-in link was used already: use the newest link in your notebook, or run the cell again.\n");
      this.#onEvent("the sign-in link was opened a second time (refused)");
    } else {
      launch.used = true;
      const target = typeof launch.target === "string" ? Promise.resolve(launch.target) : launch.target();
      target.then(
        (location) => {
          res.writeHead(303, { ...TEXT_HEADERS, Location: location, "Referrer-Policy": "no-referrer", "Content-Length": "0" });
          res.end();
        },
        (error: unknown) => {
          send(res, 502, TEXT_HEADERS, "The sign-in request could not be renewed: see the notebook, and run the cell again.\n");
          this.#onEvent(`the sign-in link could not renew the sign-in request: ${(error as Error)?.message ?? String(error)}`);
        },
      );
    }
  }

  #result(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== "GET") send(res, 405, { ...TEXT_HEADERS, Allow: "GET" }, "Method not allowed.\n");
    else if (this.#outcome) this.#serveResult(res);
    else this.#waiting.push(res);
  }

  #callback(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (req.method !== "GET") {
      send(res, 405, { ...TEXT_HEADERS, Allow: "GET" }, "Method not allowed.\n");
      this.#onEvent(`ignored a ${String(req.method).slice(0, 10)} request to the callback address`);
    } else if (this.#received) {
      send(res, 400, PAGE_HEADERS, staleCallbackPage("This sign-in has already completed."));
      this.#onEvent("ignored a second callback after the first");
    } else if (!hasOurState(url.searchParams, this.#state)) {
      send(res, 400, PAGE_HEADERS, staleCallbackPage("It does not belong to the sign-in in progress (unexpected state)."));
      this.#onEvent(url.searchParams.has("state") ? "ignored a callback with an unexpected state" : "ignored a callback without state");
    } else {
      this.#received = true;
      res.writeHead(303, { ...TEXT_HEADERS, Location: this.#resultPath, "Referrer-Policy": "no-referrer", "Content-Length": "0" });
      res.end();
      this.#resolveCallback(url.searchParams);
    }
  }

  #serveResult(res: ServerResponse): void {
    const result = this.#outcome!;
    send(res, result.ok ? 200 : 400, PAGE_HEADERS, result.ok ? signedInPage(result.issuer) : failedPage(result.message));
    this.#resultServed = true;
    this.#onResultServed?.();
  }

  /** Answers the result page with `outcome`; resolves once the browser got it, or after `waitMs`. */
  async finish(outcome: PageOutcome, waitMs: number): Promise<void> {
    this.#outcome = outcome;
    for (const res of this.#waiting.splice(0)) this.#serveResult(res);
    if (!this.#received || this.#resultServed) return;
    // The browser follows our 303 within milliseconds; give it a moment, never longer.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      timer.unref();
      this.#onResultServed = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Drops requests still waiting for the result page (the listener is closing). */
  dropWaiting(): void {
    for (const res of this.#waiting.splice(0)) res.destroy();
  }
}
