// Shared machinery of the hostile-input suite (issue #8): a per-case checker that counts what was
// tried and what went wrong, a small OAuth authorization server whose every answer a test can
// replace, a browser stand-in, raw sockets, and a private certificate authority made with openssl.
//
// Each case runs through hostileTest(): afterwards, everything the library printed (stdout and
// stderr), every error it threw (message, stack, cause chain) and every page it served are scanned
// for the secrets of the case (codes, verifiers, tokens issued by the servers); and nothing of the
// library may be left: no listening socket, no connection accepted by the listener, no pending
// timer created by src/ (tracked with async_hooks, unref'd ones included), no extra handle.
// Each test file prints one line `hostile-totals {json}` to stdout when it ends.
import assert from "node:assert/strict";
import { createHook } from "node:async_hooks";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, request as httpsRequest } from "node:https";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { it } from "node:test";
import { forgetMetadata } from "../../src/protocol/discovered.js";
import { LoginError, type LoginErrorCode } from "../../src/index.js";
import { assertNoSecret, openHandles, visibleText } from "./helpers.js";

// ---------------------------------------------------------------------------------------------
// Totals

export interface Totals {
  /** Hostile inputs tried (requests, responses, files...), not test functions. */
  cases: number;
  /** A forged or malformed input that ended in a login, or a callback taken for genuine. */
  acceptedWrongly: number;
  /** A case that did not end within its bound. */
  hangs: number;
  /** A secret visible in output, errors or pages. */
  secretLeaks: number;
  /** A listening socket, connection, timer or handle left behind. */
  resourceLeaks: number;
  /** A token the server issued and login() returned, missing from the cache afterwards. */
  lostTokens: number;
}

export class Tally {
  readonly file: string;
  readonly totals: Totals = { cases: 0, acceptedWrongly: 0, hangs: 0, secretLeaks: 0, resourceLeaks: 0, lostTokens: 0 };

  constructor(file: string) {
    this.file = file;
  }

  /** The line collected for SECURITY.md: `hostile-totals {"file":...,"cases":...,"leaks":...}`. */
  print(): void {
    const t = this.totals;
    const line = { file: this.file, ...t, leaks: t.secretLeaks + t.resourceLeaks };
    process.stdout.write(`hostile-totals ${JSON.stringify(line)}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Resources created by the library, tracked from creation (async_hooks sees unref'd timers, which
// process.getActiveResourcesInfo() does not).

const SRC = new URL("../../src/", import.meta.url).href;
const SELF = import.meta.url;
interface Live {
  what: string;
  where: string;
}
const live = new Map<number, Live>();
const listenerServers = new Set<number>();

/** The first application frame (not Node's, not this file's) that created the resource. */
function creator(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? "";
  Error.stackTraceLimit = limit;
  // Node's Date-header cache: one global timer of at most a second, whoever answered first.
  if (stack.includes("at utcDate ")) return undefined;
  for (const line of stack.split("\n").slice(1)) {
    // ES modules show file:// URLs, CommonJS ones (undici) plain paths.
    const where = /((?:file:\/\/)?\/[^\s()]+:\d+:\d+)\)?$/.exec(line)?.[1];
    if (!where) continue;
    const file = where.startsWith("file://") ? where : pathToFileURL(where).href;
    if (file.startsWith(SELF)) continue;
    return file;
  }
  return undefined;
}

createHook({
  init(asyncId, type, triggerAsyncId) {
    if (type === "Timeout" || type === "TCPSERVERWRAP") {
      const where = creator();
      if (!where?.startsWith(SRC)) return;
      live.set(asyncId, { what: type === "Timeout" ? "a timer" : "a listening socket", where });
      if (type === "TCPSERVERWRAP") listenerServers.add(asyncId);
    } else if (type === "TCPWRAP" && listenerServers.has(triggerAsyncId)) {
      live.set(asyncId, { what: "a connection accepted by the listener", where: "" });
    }
  },
  destroy(asyncId) {
    live.delete(asyncId);
    listenerServers.delete(asyncId);
  },
}).enable();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// One case

export interface CaseContext {
  /** Counts hostile inputs tried in this case (a case that never calls it counts as one). */
  tried(count?: number): void;
  /** Values that must never be visible (the servers of this file add what they issue). */
  secret(...values: (string | undefined | null)[]): void;
  /** Something the user can see (an error, a page): scanned for secrets at the end. */
  seen(value: unknown): void;
  /** Records a wrong acceptance and fails the case. */
  acceptedWrongly(what: string): never;
  /** Records a lost token and fails the case. */
  lostToken(what: string): never;
  /** What the library wrote to stdout and stderr so far in this case. */
  output(): string;
}

class HangError extends Error {}

export interface CaseOptions {
  /** The case must end within this bound (a hang otherwise). @default 15000 */
  hangMs?: number;
}

/** A node:test test run as a hostile case: output captured, secrets scanned, resources checked. */
export function hostileTest(tally: Tally, name: string, fn: (ctx: CaseContext) => Promise<void>, options: CaseOptions = {}): void {
  it(name, () => runCase(tally, fn, options));
}

export async function runCase(tally: Tally, fn: (ctx: CaseContext) => Promise<void>, options: CaseOptions = {}): Promise<void> {
  const hangMs = options.hangMs ?? 15_000;
  let tried = 0;
  const secrets = new Set<string>();
  const seen: string[] = [];
  let output = "";
  const ctx: CaseContext = {
    tried: (count = 1) => void (tried += count),
    secret: (...values) => {
      for (const value of values) if (value) secrets.add(value);
    },
    seen: (value) => void seen.push(typeof value === "string" ? value : visibleText(value)),
    acceptedWrongly: (what) => {
      tally.totals.acceptedWrongly++;
      throw new assert.AssertionError({ message: `accepted wrongly: ${what}` });
    },
    lostToken: (what) => {
      tally.totals.lostTokens++;
      throw new assert.AssertionError({ message: `lost token: ${what}` });
    },
    output: () => output,
  };

  // Each case discovers afresh (a server of an earlier case may have had the same port).
  forgetMetadata();
  const handlesBefore = await openHandles();
  const baseline = new Set(live.keys());
  const restore = captureOutput((text) => (output += text));
  let failure: unknown;
  let guard: NodeJS.Timeout | undefined;
  try {
    const hang = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new HangError(`the case did not end within ${hangMs / 1000} s`)), hangMs);
    });
    await Promise.race([fn(ctx), hang]);
  } catch (error) {
    failure = error;
    if (error instanceof HangError) tally.totals.hangs++;
  } finally {
    clearTimeout(guard);
    restore();
  }
  tally.totals.cases += Math.max(tried, 1);

  // Secrets: in what was printed, thrown and shown.
  try {
    // The library's own errors (a test's assertion messages may quote what it sent).
    const thrown = failure instanceof LoginError ? visibleText(failure) : "";
    assertNoSecret([output, thrown, ...seen].join("\n"), [...secrets]);
  } catch (error) {
    tally.totals.secretLeaks++;
    failure ??= error;
  }

  // Resources: what the library created must be gone (connections and timers close within a
  // loop turn or two of the login's end; give them a generous second).
  const deadline = Date.now() + 1500;
  let leftover: Live[] = [];
  let handlesAfter = await openHandles();
  for (;;) {
    leftover = [...live].filter(([id]) => !baseline.has(id)).map(([, info]) => info);
    handlesAfter = await openHandles();
    const sameHandles = handlesAfter.servers <= handlesBefore.servers && handlesAfter.timers <= handlesBefore.timers;
    if ((leftover.length === 0 && sameHandles) || Date.now() > deadline) break;
    await sleep(20);
  }
  if (leftover.length > 0 || handlesAfter.servers > handlesBefore.servers || handlesAfter.timers > handlesBefore.timers) {
    tally.totals.resourceLeaks++;
    failure ??= new assert.AssertionError({
      message:
        `left behind: ${leftover.map((l) => `${l.what}${l.where ? ` from ${l.where}` : ""}`).join(", ") || "nothing of src/"}; ` +
        `handles before ${JSON.stringify(handlesBefore)}, after ${JSON.stringify(handlesAfter)}`,
    });
  }
  if (failure !== undefined) throw failure;
}

/** Records stdout and stderr writes; stdout still reaches the test runner, stderr is kept quiet. */
function captureOutput(sink: (text: string) => void): () => void {
  const stdout = process.stdout.write;
  const stderr = process.stderr.write;
  const text = (chunk: unknown): string => (typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : String(chunk));
  process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    sink(text(chunk));
    return (stdout as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  } as typeof process.stdout.write;
  process.stderr.write = function (chunk: unknown, ...rest: unknown[]) {
    sink(text(chunk));
    const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
    callback?.();
    return true;
  } as typeof process.stderr.write;
  return () => {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  };
}

/** Awaits a login expected to fail with `code`; a success is counted as accepted wrongly. */
export async function expectLoginError(ctx: CaseContext, promise: Promise<unknown>, code: LoginErrorCode, what = `expected ${code}`): Promise<LoginError> {
  let error: unknown;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  if (error === undefined) ctx.acceptedWrongly(`login() succeeded (${what})`);
  ctx.seen(error);
  assert.ok(error instanceof LoginError, `not a LoginError: ${String(error)}`);
  assert.equal(error.code, code, `${what}: ${error.message}`);
  return error;
}

/** True when a message is bounded and has no control characters (safe in a cell or a terminal). */
export function isTidyMessage(message: string, max = 1500): boolean {
  return message.length <= max && !/[\u0000-\u001f\u007f-\u009f]/.test(message);
}

// ---------------------------------------------------------------------------------------------
// A small authorization server

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface FakeAsOptions {
  /** Serve https with this certificate. */
  tls?: { key: string; cert: string };
  /** Loopback address to listen on. @default "127.0.0.1" */
  host?: string;
  /** Fields to add to (or, with undefined, remove from) the discovery document. */
  metadata?: Record<string, unknown>;
  /** Answer discovery requests (both well-known addresses) yourself. */
  discovery?: Handler;
  /** Answer token requests yourself; `form` is the request body, its code and verifier already recorded as secrets. */
  token?: (req: IncomingMessage, res: ServerResponse, form: URLSearchParams) => void;
  /** Change the redirect back to the client before it is sent (tampering by the "server"). */
  callback?: (params: URLSearchParams) => void;
}

export interface FakeAs {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  /** Codes, verifiers, access and refresh tokens it issued or received: never to be visible. */
  secrets: Set<string>;
  /** Requests by path. */
  hits: Map<string, number>;
  /** Access tokens issued, in order. */
  accessTokens: string[];
  options: FakeAsOptions;
  close(): Promise<void>;
}

const b64url = (bytes: Buffer): string => bytes.toString("base64url");
const random = (): string => b64url(randomBytes(32));

export async function startFakeAs(options: FakeAsOptions = {}): Promise<FakeAs> {
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  const refreshTokens = new Set<string>();
  const secrets = new Set<string>();
  const hits = new Map<string, number>();
  const accessTokens: string[] = [];
  let issuer = "";

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", connection: "close" }).end(JSON.stringify(body));
  };
  const issue = (res: ServerResponse): void => {
    const access = random();
    const refresh = random();
    refreshTokens.add(refresh);
    secrets.add(access).add(refresh);
    accessTokens.push(access);
    json(res, 200, { access_token: access, token_type: "Bearer", expires_in: 3600, refresh_token: refresh, scope: "api" });
  };
  const document = (): Record<string, unknown> => {
    const doc: Record<string, unknown> = {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      revocation_endpoint: `${issuer}/revoke`,
      response_types_supported: ["code"],
      code_challenge_methods_supported: ["S256"],
      authorization_response_iss_parameter_supported: true,
    };
    for (const [key, value] of Object.entries(fake.options.metadata ?? {})) {
      if (value === undefined) delete doc[key];
      else doc[key] = value;
    }
    return doc;
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://x");
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    if (url.pathname.startsWith("/.well-known/")) {
      if (fake.options.discovery) return fake.options.discovery(req, res);
      if (url.pathname !== "/.well-known/openid-configuration") return void res.writeHead(404, { connection: "close" }).end();
      return json(res, 200, document());
    }
    if (url.pathname === "/authorize") {
      const q = url.searchParams;
      const redirect = q.get("redirect_uri") ?? "";
      const code = random();
      codes.set(code, { challenge: q.get("code_challenge") ?? "", redirectUri: redirect });
      secrets.add(code);
      const back = new URL(redirect);
      back.searchParams.set("code", code);
      back.searchParams.set("state", q.get("state") ?? "");
      back.searchParams.set("iss", issuer);
      fake.options.callback?.(back.searchParams);
      res.writeHead(302, { location: back.href, connection: "close" }).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      for (const key of ["code", "code_verifier", "refresh_token", "token"]) {
        const value = form.get(key);
        if (value) secrets.add(value);
      }
      if (url.pathname === "/token") {
        if (fake.options.token) return fake.options.token(req, res, form);
        if (form.get("grant_type") === "authorization_code") {
          const grant = codes.get(form.get("code") ?? "");
          codes.delete(form.get("code") ?? "");
          const verifier = form.get("code_verifier") ?? "";
          const challenge = b64url(createHash("sha256").update(verifier).digest());
          if (!grant || grant.challenge !== challenge || grant.redirectUri !== form.get("redirect_uri")) {
            return json(res, 400, { error: "invalid_grant", error_description: "unknown code, or PKCE/redirect_uri mismatch" });
          }
          return issue(res);
        }
        if (form.get("grant_type") === "refresh_token") {
          const old = form.get("refresh_token") ?? "";
          if (!refreshTokens.delete(old)) return json(res, 400, { error: "invalid_grant" });
          return issue(res);
        }
        return json(res, 400, { error: "unsupported_grant_type" });
      }
      if (url.pathname === "/revoke") return void res.writeHead(200, { connection: "close" }).end();
      res.writeHead(404, { connection: "close" }).end();
    });
  };

  const server: Server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createHttpServer(handler);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  issuer = `${options.tls ? "https" : "http"}://${host}:${(server.address() as AddressInfo).port}`;
  const fake: FakeAs = {
    issuer,
    authorizationEndpoint: `${issuer}/authorize`,
    tokenEndpoint: `${issuer}/token`,
    secrets,
    hits,
    accessTokens,
    options,
    close: () => closeServer(server),
  };
  return fake;
}

/** Runs `fn` with a fresh authorization server; what it issued becomes the case's secrets. */
export async function withFakeAs<T>(ctx: CaseContext, options: FakeAsOptions, fn: (as: FakeAs) => Promise<T>): Promise<T> {
  const as = await startFakeAs(options);
  forgetMetadata();
  try {
    return await fn(as);
  } finally {
    ctx.secret(...as.secrets);
    await as.close();
  }
}

/** The listener's port, from the redirect_uri of a sign-in URL. */
export function listenerPort(authorizationUrl: string | URL): number {
  return Number(new URL(new URL(authorizationUrl).searchParams.get("redirect_uri")!).port);
}

/** Closes a server and every connection to it. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A plain test server on 127.0.0.1 (faulty endpoints), closed with every connection. */
export async function startTestServer(handler: Handler): Promise<{ url: string; port: number; server: Server; close: () => Promise<void> }> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, server, close: () => closeServer(server) };
}

// ---------------------------------------------------------------------------------------------
// HTTP clients: a browser stand-in and raw sockets

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One GET (no redirect followed), over http or https, optionally to ::1 with the URL's Host. */
export function get(url: string | URL, options: { ca?: string; family?: 4 | 6; headers?: OutgoingHttpHeaders } = {}): Promise<Reply> {
  const target = new URL(url);
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  const host = options.family === 6 ? "::1" : target.hostname === "localhost" ? "127.0.0.1" : target.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: "GET",
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

export interface Visit {
  /** The redirect back, as delivered to the listener. */
  callback: URL | undefined;
  /** The listener's answer to it. */
  callbackReply: Reply | undefined;
  /** The result page the listener redirected to (303), if any. */
  result: Reply | undefined;
}

/**
 * A browser stand-in for `openBrowser`: asks the authorization endpoint, takes its redirect back to
 * the listener (optionally changed), and follows the listener's 303 to the result page.
 */
export interface FakeBrowserOptions {
  /** Trust this authority for an https authorization server. */
  ca?: string;
  /** Reach the listener over IPv6 (::1), as a browser resolving `localhost` to ::1 does. */
  family?: 4 | 6;
  /** Change the redirect back before delivering it. */
  tamper?: (callback: URL) => URL;
  /** Runs first, with the sign-in URL (what a local process could do meanwhile). */
  before?: (authorizationUrl: URL) => Promise<void>;
}

export class FakeBrowser {
  last: Promise<Visit> | undefined;
  readonly #options: FakeBrowserOptions;

  constructor(options: FakeBrowserOptions = {}) {
    this.#options = options;
  }

  readonly open = (url: string): void => {
    this.last = this.visit(url);
    this.last.catch(() => {});
  };

  async visit(url: string): Promise<Visit> {
    await this.#options.before?.(new URL(url));
    const auth = await get(url, { ca: this.#options.ca });
    const location = auth.headers.location;
    if (auth.status !== 302 || typeof location !== "string") return { callback: undefined, callbackReply: undefined, result: undefined };
    let callback = new URL(location);
    if (this.#options.tamper) callback = this.#options.tamper(callback);
    const callbackReply = await get(callback, { family: this.#options.family });
    const next = callbackReply.headers.location;
    const result = callbackReply.status === 303 && typeof next === "string" ? await get(new URL(next, callback), { family: this.#options.family }) : undefined;
    return { callback, callbackReply, result };
  }
}

export interface RawReply {
  /** Status of the first response, undefined when none came back. */
  status: number | undefined;
  /** Everything received, as latin1 text. */
  text: string;
  /** The server closed the connection (rather than our timeout). */
  closedByServer: boolean;
}

/** Sends bytes on a fresh connection and reads until the server closes it (or `waitMs`). */
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

// ---------------------------------------------------------------------------------------------
// A private certificate authority (openssl; node:crypto cannot make certificates)

export interface TestCertificates {
  /** PEM of the authority that issued `cert`. */
  ca: string;
  /** PEM of another authority, unrelated to `cert`. */
  otherCa: string;
  /** The server's key and certificate (127.0.0.1 and localhost). */
  key: string;
  cert: string;
}

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "tslab-oauth-tls-"));
  const run = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  try {
    const authority = (name: string): void =>
      run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2",
        "-subj", `/CN=tslab-oauth test ${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    authority("ca");
    authority("other-ca");
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
    writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext");
    const read = (name: string): string => readFileSync(join(dir, name), "utf8");
    return { ca: read("ca.pem"), otherCa: read("other-ca.pem"), key: read("server.key"), cert: read("server.pem") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
