// The scripted user agent, the one browser of the tests and benchmarks (what they pass as
// `openBrowser`): an HTTP client with a cookie jar that follows redirects and fills in the login and
// consent forms of oidc-provider (the demo provider), Django (django-oauth-toolkit) and the device
// flow's pages, and LemonLDAP::NG's portal, the way a person in a browser would. Against a provider without forms (the hostile
// suite's fake-as.ts) it simply follows the redirects: to the loopback callback, then to the result
// page. It can trust a private certificate authority (https), resolve `localhost` to ::1 or
// 127.0.0.1, change or withhold the callback, and run something first (a local attacker's moves).
import { Agent, request, type Dispatcher } from "undici";

export interface UserAgentOptions {
  /** Name typed into the login form. @default "alice" */
  login?: string;
  /** Password typed into a login form that checks it (Django's); the demo provider takes any. */
  password?: string;
  /**
   * Press Cancel instead of signing in: on the demo provider's login page, or on a consent form
   * with an "allow" button (django-oauth-toolkit's). The server answers access_denied.
   */
  deny?: boolean;
  /**
   * Called with the redirect back to the client before it is requested: return another URL to
   * tamper with it, or `null` to stop there (the manual "copy the address" flow).
   */
  onCallback?: (url: URL) => URL | null;
  /** The user code to type on a device flow's verification page (when its URL does not carry it). */
  userCode?: string;
  /** Also request what a browser would: /favicon.ico on the callback host, before the callback. */
  strayRequests?: boolean;
  /** Trust this certificate authority (an https provider with a private CA). */
  ca?: string;
  /** Resolve `localhost` to ::1 (6) or 127.0.0.1 (4), as browsers differ; by default the system decides. */
  family?: 4 | 6;
  /** Runs first, with the sign-in URL (what a local process could do meanwhile). */
  before?: (authorizationUrl: URL) => Promise<void>;
}

export interface VisitResult {
  /** Every URL requested, in order. */
  visited: string[];
  /** The redirect back to the client (loopback), as it arrived. */
  callbackUrl: URL | undefined;
  /** The client's (the listener's) answer to the callback request, if one was made. */
  callbackStatus: number | undefined;
  /** The last page: where the redirects ended (the listener's result page after a callback). */
  finalStatus: number;
  finalUrl: string;
  finalHeaders: Record<string, string | string[] | undefined>;
  finalBody: string;
}

export class ScriptedUserAgent {
  readonly #jar = new Map<string, Map<string, string>>();
  readonly #options: UserAgentOptions;
  /** The last completed or failed visit; tests read it after login() returns. */
  last: Promise<VisitResult> | undefined;

  constructor(options: UserAgentOptions = {}) {
    this.#options = options;
  }

  /** Use as `openBrowser`: starts the visit in the background, like a browser would. */
  readonly open = (url: string): void => {
    this.last = this.visit(url);
    this.last.catch(() => {});
  };

  async visit(start: string): Promise<VisitResult> {
    await this.#options.before?.(new URL(start));
    const dispatcher = this.#options.ca ? new Agent({ connect: { ca: this.#options.ca } }) : undefined;
    try {
      return await this.#visit(start, dispatcher);
    } finally {
      await dispatcher?.close();
    }
  }

  async #visit(start: string, dispatcher: Dispatcher | undefined): Promise<VisitResult> {
    const visited: string[] = [];
    let callbackUrl: URL | undefined;
    let callbackStatus: number | undefined;
    let url = new URL(start);
    let method: "GET" | "POST" = "GET";
    let body: string | undefined;
    const idpOrigin = url.origin;
    for (let hop = 0; hop < 30; hop++) {
      if (url.origin !== idpOrigin && !callbackUrl) {
        if (this.#options.strayRequests) {
          await this.#fetch(dispatcher, new URL("/favicon.ico", url), "GET").catch(() => undefined);
        }
        const replaced = this.#options.onCallback ? this.#options.onCallback(url) : url;
        callbackUrl = url;
        if (replaced === null) return { visited, callbackUrl, callbackStatus, finalStatus: 0, finalUrl: url.href, finalHeaders: {}, finalBody: "" };
        url = replaced;
      }
      visited.push(url.href);
      const res = await this.#fetch(dispatcher, url, method, body);
      if (callbackUrl && callbackStatus === undefined) callbackStatus = res.status;
      method = "GET";
      body = undefined;
      const location = res.headers.location;
      if (res.status >= 300 && res.status < 400 && typeof location === "string") {
        url = new URL(location, url);
        continue;
      }
      const text = res.body;
      const formTag = /<form\b([^>]*)>/i.exec(text)?.[1] ?? "";
      // A POST form without `action` posts back to the page's own URL (DOT's consent form).
      const action = /method="post"/i.test(formTag) ? (/action="([^"]+)"/i.exec(formTag)?.[1] ?? url.href) : undefined;
      if (res.status === 200 && action && url.origin === idpOrigin) {
        const isDeviceConfirm = /name="abort"/.test(text) && /Confirm Device/.test(text);
        if (this.#options.deny && /name="login"/.test(text)) {
          const abort = /href="([^"]*\/abort)"/i.exec(text);
          if (!abort) throw new Error("no Cancel link on the page");
          url = new URL(decode(abort[1]!), url);
          continue;
        }
        const fields = new URLSearchParams();
        for (const input of text.matchAll(/<input([^>]*)>/gi)) {
          const name = /name="([^"]*)"/.exec(input[1]!)?.[1];
          // An unticked checkbox is not sent (LemonLDAP::NG's "check my last logins").
          if (!name || (/type="checkbox"/i.test(input[1]!) && !/\bchecked\b/i.test(input[1]!))) continue;
          const value = /value="([^"]*)"/.exec(input[1]!)?.[1] ?? "";
          fields.set(name, decode(value));
        }
        if (fields.has("login")) {
          fields.set("login", this.#options.login ?? "alice");
          fields.set("password", "any password");
        }
        // LemonLDAP::NG's portal: `user` and `password` (its Demo users' passwords are their names).
        if (fields.has("user") && fields.has("password")) {
          fields.set("user", this.#options.login ?? "dwho");
          fields.set("password", this.#options.password ?? this.#options.login ?? "dwho");
        }
        if (fields.has("username")) {
          fields.set("username", this.#options.login ?? "alice");
          fields.set("password", this.#options.password ?? "");
        }
        if (this.#options.deny && fields.has("allow")) fields.delete("allow");
        // The device flow's pages (RFC 8628): type the user code if it is not filled in, and on
        // the confirmation page press Continue (or Cancel, with `deny`).
        if (fields.has("user_code") && !fields.get("user_code")) fields.set("user_code", this.#options.userCode ?? "");
        if (isDeviceConfirm) {
          if (this.#options.deny) fields.set("abort", "yes");
          else fields.set("confirm", "yes");
        }
        url = new URL(decode(action), url);
        method = "POST";
        body = fields.toString();
        continue;
      }
      return { visited, callbackUrl, callbackStatus, finalStatus: res.status, finalUrl: url.href, finalHeaders: res.headers, finalBody: text };
    }
    throw new Error(`too many redirects, last at ${url.href}`);
  }

  async #fetch(
    dispatcher: Dispatcher | undefined,
    url: URL,
    method: "GET" | "POST",
    body?: string,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    const headers: Record<string, string> = { "user-agent": "tslab-oauth-test" };
    // `localhost` resolved as asked: connect to the address, keep the Host the browser would send.
    let target = url;
    if (this.#options.family && url.hostname === "localhost") {
      target = new URL(url);
      target.hostname = this.#options.family === 6 ? "[::1]" : "127.0.0.1";
      headers.host = url.host;
    }
    const cookies = this.#jar.get(url.hostname);
    if (cookies && cookies.size > 0) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    if (body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
    const res = await request(target, { method, headers, body, ...(dispatcher ? { dispatcher } : {}) });
    const text = await res.body.text();
    const setCookie = res.headers["set-cookie"];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      if (eq <= 0) continue;
      const jar = this.#jar.get(url.hostname) ?? new Map<string, string>();
      const value = pair!.slice(eq + 1);
      if (/max-age=0|expires=Thu, 01 Jan 1970/i.test(line) || value === "") jar.delete(pair!.slice(0, eq).trim());
      else jar.set(pair!.slice(0, eq).trim(), value);
      this.#jar.set(url.hostname, jar);
    }
    return { status: res.statusCode, headers: res.headers as Record<string, string | string[] | undefined>, body: text };
  }
}

function decode(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCharCode(parseInt(n, 16)))
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&amp;/g, "&");
}
