// The peer comparison (#7): a full interactive login — from the call to holding a bearer token —
// by tslab-oauth and by other libraries, against one real oidc-provider (demo/idp.js, in this
// process, on loopback) and one scripted user agent (test/support/user-agent.ts: it follows the
// redirects, fills in the demo's login and consent forms and requests the loopback callback).
//
//   1. logins, interleaved A B C ... A B C ... (warm-up rounds discarded), every one from a fresh
//      user agent (no session: login form and consent each time). Per contender: median and p95,
//      and the ratio to the baseline computed pair by pair (per round contender / baseline, then
//      the median of those ratios). Contenders, and what each does inside the timed window:
//        - baseline: no library. node:http listener on 127.0.0.1:0, PKCE S256 (node:crypto),
//          state, the authorization URL by hand, state checked, the code exchanged with undici
//          `request`, listener closed. Endpoints from one discovery done before the benchmark.
//        - tslab-oauth: login({ issuer, ..., cache: false, quiet: true, openBrowser }) as is: it
//          discovers the metadata once and reuses it in the process (10 minutes), as a kernel does.
//        - tslab-oauth, endpoints given: the same with `authorizationEndpoint` and `tokenEndpoint`
//          (and `issuer`, still checked): no discovery request.
//        - openid-client 6: discovery() once before the benchmark (its Configuration is meant to be
//          reused), then per login randomPKCECodeVerifier, randomState, buildAuthorizationUrl,
//          the same hand-written listener as the baseline, authorizationCodeGrant.
//        - msal-node: one PublicClientApplication (protocolMode OIDC), acquireTokenInteractive per
//          login, its own loopback server, response_mode=form_post. msal refuses an http authority
//          (authority_uri_insecure), so it is given the https spelling of the issuer plus
//          `authorityMetadata` (the discovery document fetched once): it never contacts that URL,
//          and every request goes to the http endpoints the metadata lists.
//        - google-auth-oauthlib (0.4.2) run_local_server, requests-oauthlib (1.3.0) OAuth2Session:
//          Debian's /usr/bin/python3, one warm worker process each (bench/peers/worker.py), timed
//          inside Python around the call (CLOCK_MONOTONIC, the clock of process.hrtime); they open
//          the browser through Python's webbrowser, which runs $BROWSER <url> and waits for it to
//          exit: $BROWSER is a two-line bash script that writes the URL to a loopback socket of
//          this process and exits at once, and this process hands it to the scripted user agent.
//          No discovery (neither library has it): endpoints come from the config.
//   2. own overhead, measured directly: the IdP's request handling is timed (its server's
//      'request' event to the response's 'finish'), and so is the user agent's part: from the URL
//      handed to it to the callback request reaching the contender's listener (its headers parsed;
//      Node's http.server.request.start channel in this process, a timestamp in the listener's
//      handler in the Python workers). Own = total − |server ∪ user agent|: what the client spends
//      outside the server and the browser (listener start, browser hand-off, callback handling,
//      exchange request and response validation, display, listener close), shown split into
//      before the browser and after the callback. The client ends of its own requests (undici,
//      requests) count as its own. Also the paired difference tslab-oauth − baseline.
//   3. memory: RSS and heap growth across 100 tslab-oauth logins in this process (after a warm-up
//      and a full GC), next to 100 baseline logins (the same server-side work in the same process;
//      oidc-provider's in-memory store is a 1000-entry LRU, full by then), and the heap's slope
//      (after a full GC every 10 logins; global.gc, or V8's flag set at run time without it).
//   4. listener hygiene, after every login: new active resources (process.getActiveResourcesInfo()
//      by type; TCPServerWrap = server handles) once the user agent is done, right away and one
//      event-loop turn later (a server closed without waiting is listed until its close
//      callback), for the contenders in this process; for all, whether the callback port still
//      accepts connections.
//   5. import cost: fresh processes, interleaved: bare Node, import(tslab-oauth) (the compiled
//      ../src/index.js next to this file), import("openid-client"), import("@azure/msal-node"),
//      and Python's imports; the import itself (timed inside the child) and the whole process.
//
// Knobs: BENCH_PEERS_ROUNDS (100), BENCH_PEERS_WARMUP (3), BENCH_PEERS_MEMORY_LOGINS (100),
// BENCH_PEERS_IMPORT_RUNS (15), BENCH_PEERS_PYTHON (/usr/bin/python3), BENCH_PEERS_ONLY (names).
// tslab-oauth prints "Sign in at: <url>" to stderr on every login, as it does in a terminal; this
// benchmark sends those lines to /dev/null (one write each, as before) to keep its output readable.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { subscribe } from "node:diagnostics_channel";
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { PublicClientApplication, ProtocolMode } from "@azure/msal-node";
import * as oidc from "openid-client";
import { request } from "undici";
import { CONFIDENTIAL_CLIENT_ID, DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, type LoginConfig } from "../src/index.js";
import { ScriptedUserAgent } from "../test/support/user-agent.js";

const ROUNDS = Number(process.env.BENCH_PEERS_ROUNDS ?? 100);
const WARMUP = Number(process.env.BENCH_PEERS_WARMUP ?? 3);
const MEMORY_LOGINS = Number(process.env.BENCH_PEERS_MEMORY_LOGINS ?? 100);
const IMPORT_RUNS = Number(process.env.BENCH_PEERS_IMPORT_RUNS ?? 15);
const PYTHON = process.env.BENCH_PEERS_PYTHON ?? "/usr/bin/python3";
/** Comma-separated contender names to run (the baseline always runs); default all. */
const ONLY = process.env.BENCH_PEERS_ONLY?.split(",").map((name) => name.trim());
const LOGIN_TIMEOUT_MS = 30_000;
const SCOPES = ["openid", "profile"];
const CLIENT_SECRET = "peers-bench-secret";

function stats(samples: number[]): { median: number; p95: number; min: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p95: at(0.95), min: sorted[0]! };
}
const ms = (value: number): string => (Math.abs(value) < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(2)} ms`);
/** CLOCK_MONOTONIC in milliseconds: the clock Python's time.monotonic_ns() reads too. */
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

type Interval = [start: number, end: number];
/** Total length of the union of intervals, clipped to [from, to]. */
function covered(intervals: Interval[], from: number, to: number): number {
  const clipped = intervals
    .map(([a, b]): Interval => [Math.max(a, from), Math.min(b, to)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of clipped) {
    if (a >= end) {
      total += b - a;
      end = b;
    } else if (b > end) {
      total += b - end;
      end = b;
    }
  }
  return total;
}

/** One login's user agent, with the instants that delimit its part. */
class Agent {
  /** When the URL was handed to it. */
  start: number | undefined;
  /** When it was about to request the loopback callback. */
  end: number | undefined;
  /** When that request reached the contender's listener (its headers parsed). */
  arrived: number | undefined;
  callback: URL | undefined;
  readonly ua = new ScriptedUserAgent({
    onCallback: (url) => {
      this.end = now();
      this.callback = url;
      return url;
    },
  });
  readonly open = (url: string): void => {
    this.start = now();
    this.ua.open(url);
  };
  async settled(): Promise<void> {
    await this.ua.last?.catch(() => undefined);
  }
}

interface LoginRun {
  t0: number;
  t1: number;
  /** When the callback reached the listener, for a listener in another process. */
  callbackAt?: number | undefined;
}
interface Sample {
  total: number;
  server: number;
  ua: number;
  own: number;
  /** Own time before the URL reached the user agent, and after the callback reached the listener. */
  ownBefore: number;
  ownAfter: number;
}
interface Contender {
  name: string;
  perLogin: string;
  /** In this process: its handles are checked after each login. */
  inProcess: boolean;
  login(agent: Agent): Promise<LoginRun>;
  close?(): Promise<void>;
  samples: Map<number, Sample>;
  failed?: string;
}

/** The hand-written loopback listener of the baseline and of the openid-client contender. */
async function callbackListener(): Promise<{ redirectUri: string; callback: Promise<URL>; close: () => Promise<void> }> {
  let resolveCallback!: (url: URL) => void;
  const callback = new Promise<URL>((resolve) => (resolveCallback = resolve));
  const server: Server = createServer((req, res) => {
    // The full URL, port included: openid-client takes the redirect_uri it sends from it.
    const url = new URL(req.url ?? "/", redirectUri);
    if (req.method !== "GET" || url.pathname !== "/callback") {
      res.writeHead(404, { connection: "close" }).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", connection: "close" }).end("Signed in. You may close this window.\n");
    resolveCallback(url);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  return { redirectUri, callback, close };
}

/** A Python contender's warm interpreter (bench/peers/worker.py): one JSON line per command. */
class PythonWorker {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  #stderr = "";

  constructor(script: string, name: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv) {
    this.#child = spawn(PYTHON, [script, name, JSON.stringify(config)], { env, stdio: ["pipe", "pipe", "pipe"] });
    this.#child.on("error", (error) => (this.#stderr += `${error.message}\n`));
    this.#child.stderr.setEncoding("utf8").on("data", (chunk: string) => (this.#stderr = (this.#stderr + chunk).slice(-2000)));
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async next(): Promise<{ ready?: boolean; importMs?: number; t0?: number; t1?: number; callbackAt?: number | null; tokenLength?: number; error?: string }> {
    const line = await this.#lines.next();
    if (line.done) throw new Error(`the Python worker exited (${this.#child.exitCode ?? this.#child.signalCode}): ${this.#stderr.trim()}`);
    return JSON.parse(line.value) as Awaited<ReturnType<PythonWorker["next"]>>;
  }

  login(): ReturnType<PythonWorker["next"]> {
    this.#child.stdin.write("login\n");
    return this.next();
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.stdin.end("quit\n");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    this.#child.kill("SIGKILL");
  }
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no token within ${LOGIN_TIMEOUT_MS / 1000} s`)), LOGIN_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** True when nothing accepts connections on 127.0.0.1:port any more. */
function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

interface Hygiene {
  checks: number;
  /** Largest number of new active resources of any type after a login, and its types. */
  maxNew: number;
  maxNewTypes: Record<string, number>;
  /** Largest number of new server handles (TCPServerWrap) right after the login and its user agent ended. */
  maxNewListeningAtReturn: number;
  /** The same one event-loop turn later (a handle being closed is still listed until then). */
  maxNewListening: number;
  /** Logins after which the callback port still accepted a connection. */
  portStillOpen: number;
}

const newHygiene = (): Hygiene => ({ checks: 0, maxNew: 0, maxNewTypes: {}, maxNewListeningAtReturn: 0, maxNewListening: 0, portStillOpen: 0 });

async function checkHygiene(hygiene: Hygiene, before: Map<string, number> | undefined, agent: Agent): Promise<void> {
  // Right away: a listener closed before the login resolved is gone already.
  await new Promise((resolve) => setImmediate(resolve));
  const listeningNow = (resources().get("TCPServerWrap") ?? 0) - (before?.get("TCPServerWrap") ?? 0);
  hygiene.maxNewListeningAtReturn = Math.max(hygiene.maxNewListeningAtReturn, listeningNow);
  // After one more turn of the event loop (its close-callbacks phase): one only being closed is gone too.
  await new Promise((resolve) => setTimeout(resolve, 0));
  hygiene.checks++;
  if (before) {
    const added: Record<string, number> = {};
    let total = 0;
    for (const [type, count] of resources()) {
      const delta = count - (before.get(type) ?? 0);
      if (delta > 0) {
        added[type] = delta;
        total += delta;
      }
    }
    if (total > hygiene.maxNew) {
      hygiene.maxNew = total;
      hygiene.maxNewTypes = added;
    }
    hygiene.maxNewListening = Math.max(hygiene.maxNewListening, added.TCPServerWrap ?? 0);
  }
  const port = Number(agent.callback?.port);
  if (port && !(await portClosed(port))) hygiene.portStillOpen++;
}

function collectGarbage(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

// tslab-oauth's terminal display: same write, to /dev/null.
const devNull = openSync("/dev/null", "w");
const stderrWrite = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
process.stderr.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
  if (typeof chunk === "string" && chunk.startsWith("Sign in at: ")) {
    writeSync(devNull, chunk);
    return true;
  }
  return stderrWrite(chunk, ...rest);
}) as typeof process.stderr.write;
const progress = (message: string): boolean => stderrWrite(`peers: ${message}\n`);

/** bench/peers/worker.py: next to this file's source, from .build/bench or from the package root. */
function workerScript(): string {
  const candidates = [fileURLToPath(new URL("../../bench/peers/worker.py", import.meta.url)), join(process.cwd(), "bench", "peers", "worker.py")];
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`bench/peers/worker.py not found (looked at ${candidates.join(", ")}); run from the package root`);
  return found;
}

const tmp = mkdtempSync(join(tmpdir(), "tslab-oauth-peers-"));
const idp = await startDemoIdp({ clientSecret: CLIENT_SECRET, rootRedirects: true });

// The IdP's busy intervals: from its server's 'request' event to the response's end.
const serverBusy: Interval[] = [];
idp.server.prependListener("request", (_req, res) => {
  const start = now();
  let done = false;
  const end = (): void => {
    if (!done) serverBusy.push([start, now()]);
    done = true;
  };
  res.once("finish", end);
  res.once("close", end);
});

// The callback's arrival at an in-process contender's listener: the first request to an HTTP
// server other than the IdP once the user agent has the callback URL.
let currentAgent: Agent | undefined;
subscribe("http.server.request.start", (message) => {
  const { server } = message as { server: unknown };
  if (server !== idp.server && currentAgent?.end !== undefined && currentAgent.arrived === undefined) currentAgent.arrived = now();
});

// The Python contenders' browser: $BROWSER writes the URL here and exits at once.
let handoffAgent: Agent | undefined;
const handoff = createNetServer((socket) => {
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    text += chunk;
    const newline = text.indexOf("\n");
    if (newline >= 0 && handoffAgent) {
      handoffAgent.open(text.slice(0, newline));
      handoffAgent = undefined;
    }
  });
  socket.on("error", () => {});
});
await new Promise<void>((resolve) => handoff.listen(0, "127.0.0.1", () => resolve()));
const browserCommand = join(tmp, "browser");
writeFileSync(
  browserCommand,
  '#!/bin/bash\n# $BROWSER of bench/peers.ts: hands the URL to its scripted user agent and exits at once.\nprintf \'%s\\n\' "$1" > "/dev/tcp/127.0.0.1/$PEERS_HANDOFF_PORT"\n',
  { mode: 0o755 },
);

const contenders: Contender[] = [];
const workers: PythonWorker[] = [];
try {
  const discoveryResponse = await request(`${idp.issuer}/.well-known/openid-configuration`);
  const metadataText = await discoveryResponse.body.text();
  const metadata = JSON.parse(metadataText) as { authorization_endpoint: string; token_endpoint: string };

  const baseline: Contender = {
    name: "baseline (no library)",
    perLogin: "listener, PKCE, state, URL by hand; undici exchange; close (no discovery)",
    inProcess: true,
    samples: new Map(),
    async login(agent) {
      const t0 = now();
      const verifier = randomBytes(32).toString("base64url");
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      const state = randomBytes(16).toString("base64url");
      const listener = await callbackListener();
      const url = new URL(metadata.authorization_endpoint);
      for (const [key, value] of Object.entries({
        response_type: "code",
        client_id: DEMO_CLIENT_ID,
        redirect_uri: listener.redirectUri,
        scope: SCOPES.join(" "),
        state,
        code_challenge: challenge,
        code_challenge_method: "S256",
      })) {
        url.searchParams.set(key, value);
      }
      agent.open(url.href);
      const callback = await listener.callback;
      const closed = listener.close();
      if (callback.searchParams.get("state") !== state) throw new Error("state mismatch");
      const res = await request(metadata.token_endpoint, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code: callback.searchParams.get("code") ?? "",
          redirect_uri: listener.redirectUri,
          client_id: DEMO_CLIENT_ID,
          code_verifier: verifier,
        }).toString(),
      });
      const body = (await res.body.json()) as { access_token?: string; error?: string };
      if (res.statusCode !== 200 || !body.access_token) throw new Error(`token request failed: ${body.error}`);
      const headers = { Authorization: `Bearer ${body.access_token}` };
      await closed;
      const t1 = now();
      if (!headers.Authorization) throw new Error("no token");
      return { t0, t1 };
    },
  };
  contenders.push(baseline);

  const tslabLogin =
    (config: LoginConfig): Contender["login"] =>
    async (agent) => {
      const t0 = now();
      const headers = await login({ ...config, openBrowser: agent.open });
      const t1 = now();
      if (!headers.Authorization.startsWith("Bearer ")) throw new Error("no bearer token");
      return { t0, t1 };
    };
  const tslabConfig: LoginConfig = { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: SCOPES, cache: false, quiet: true };
  const tslab: Contender = {
    name: "tslab-oauth",
    perLogin: "login(): discovery (reused in the process after the first login), listener, PKCE, state, nonce; exchange, ID token claims; result page; close",
    inProcess: true,
    samples: new Map(),
    login: tslabLogin(tslabConfig),
  };
  contenders.push(tslab);
  contenders.push({
    name: "tslab-oauth, endpoints given",
    perLogin: "the same with authorizationEndpoint + tokenEndpoint: no discovery",
    inProcess: true,
    samples: new Map(),
    login: tslabLogin({ ...tslabConfig, authorizationEndpoint: metadata.authorization_endpoint, tokenEndpoint: metadata.token_endpoint }),
  });
  contenders.push({
    name: "tslab-oauth, preflight: false",
    perLogin: "the same without the preflight request of the sign-in page (#14): what that check costs",
    inProcess: true,
    samples: new Map(),
    login: tslabLogin({ ...tslabConfig, preflight: false }),
  });

  const oidcConfig = await oidc.discovery(new URL(idp.issuer), DEMO_CLIENT_ID, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  contenders.push({
    name: "openid-client",
    perLogin: "PKCE, state, buildAuthorizationUrl, hand-written listener, authorizationCodeGrant, close (discovery() once, before)",
    inProcess: true,
    samples: new Map(),
    async login(agent) {
      const t0 = now();
      const verifier = oidc.randomPKCECodeVerifier();
      const challenge = await oidc.calculatePKCECodeChallenge(verifier);
      const state = oidc.randomState();
      const listener = await callbackListener();
      const url = oidc.buildAuthorizationUrl(oidcConfig, {
        redirect_uri: listener.redirectUri,
        scope: SCOPES.join(" "),
        code_challenge: challenge,
        code_challenge_method: "S256",
        state,
      });
      agent.open(url.href);
      const callback = await listener.callback;
      const tokens = await oidc.authorizationCodeGrant(oidcConfig, callback, { pkceCodeVerifier: verifier, expectedState: state });
      await listener.close();
      const t1 = now();
      if (!tokens.access_token) throw new Error("no token");
      return { t0, t1 };
    },
  });

  const issuerUrl = new URL(idp.issuer);
  const msal = new PublicClientApplication({
    auth: {
      clientId: DEMO_CLIENT_ID,
      authority: `https://${issuerUrl.host}${issuerUrl.pathname}`,
      knownAuthorities: [issuerUrl.host],
      authorityMetadata: metadataText,
    },
    system: { protocolMode: ProtocolMode.OIDC },
  });
  contenders.push({
    name: "msal-node",
    perLogin:
      "acquireTokenInteractive: its loopback server (it polls every 100 ms for it to listen before opening the browser), PKCE, form_post; exchange; in-memory token cache; metadata given",
    inProcess: true,
    samples: new Map(),
    async login(agent) {
      const t0 = now();
      const result = await msal.acquireTokenInteractive({ scopes: SCOPES, openBrowser: async (url) => agent.open(url) });
      const t1 = now();
      if (!result.accessToken) throw new Error("no token");
      return { t0, t1 };
    },
  });

  const script = workerScript();
  const env = {
    ...process.env,
    OAUTHLIB_INSECURE_TRANSPORT: "1",
    BROWSER: browserCommand,
    PEERS_HANDOFF_PORT: String((handoff.address() as AddressInfo).port),
  };
  const endpoints = { authorizationEndpoint: metadata.authorization_endpoint, tokenEndpoint: metadata.token_endpoint, scopes: SCOPES };
  const python: [string, string, Record<string, unknown>][] = [
    [
      "google-auth-oauthlib",
      "InstalledAppFlow.run_local_server: wsgiref listener, PKCE (128 chars), webbrowser; exchange with secret; Credentials",
      { ...endpoints, clientId: CONFIDENTIAL_CLIENT_ID, clientSecret: CLIENT_SECRET },
    ],
    [
      "requests-oauthlib",
      "OAuth2Session + PKCE by hand: http.server listener, webbrowser; fetch_token (public client)",
      { ...endpoints, clientId: DEMO_CLIENT_ID },
    ],
  ];
  const pythonImports: Record<string, number> = {};
  for (const [name, perLogin, config] of python) {
    if (ONLY && !ONLY.includes(name)) continue;
    const worker = new PythonWorker(script, name, config, env);
    workers.push(worker);
    const contender: Contender = {
      name,
      perLogin,
      inProcess: false,
      samples: new Map(),
      async login(agent) {
        handoffAgent = agent;
        const reply = await worker.login().catch((error: unknown) => {
          worker.kill();
          throw error;
        });
        handoffAgent = undefined;
        if (reply.error || reply.t0 === undefined || reply.t1 === undefined) throw new Error(reply.error ?? "no timing in the reply");
        return { t0: reply.t0, t1: reply.t1, callbackAt: reply.callbackAt ?? undefined };
      },
      close: () => worker.close(),
    };
    try {
      const ready = await withTimeout(worker.next(), `${name} start`);
      pythonImports[name] = ready.importMs ?? NaN;
      contenders.push(contender);
    } catch (error) {
      contender.failed = (error as Error).message;
      contenders.push(contender);
    }
  }
  for (const contender of contenders) {
    if (ONLY && contender !== baseline && !ONLY.includes(contender.name)) contender.failed = "skipped (BENCH_PEERS_ONLY)";
  }

  // 1, 2, 4. Interleaved logins.
  const hygiene = new Map<string, Hygiene>(contenders.map((c) => [c.name, newHygiene()]));
  const runOne = async (contender: Contender, round: number, record: boolean): Promise<Sample | undefined> => {
    const agent = new Agent();
    currentAgent = agent;
    const before = contender.inProcess ? resources() : undefined;
    serverBusy.length = 0;
    let run: LoginRun;
    try {
      run = await withTimeout(contender.login(agent), contender.name);
    } catch (error) {
      currentAgent = undefined;
      contender.failed = `${(error as Error).message}`;
      progress(`${contender.name} failed in round ${round}: ${contender.failed}`);
      await agent.settled();
      return undefined;
    }
    await agent.settled();
    currentAgent = undefined;
    const total = run.t1 - run.t0;
    const uaEnd = run.callbackAt ?? agent.arrived;
    const ua: Interval[] = agent.start !== undefined && uaEnd !== undefined ? [[agent.start, uaEnd]] : [];
    const sample: Sample = {
      total,
      server: covered(serverBusy, run.t0, run.t1),
      ua: covered(ua, run.t0, run.t1),
      own: total - covered([...serverBusy, ...ua], run.t0, run.t1),
      ownBefore: agent.start === undefined ? NaN : agent.start - run.t0 - covered(serverBusy, run.t0, agent.start),
      ownAfter: uaEnd === undefined ? NaN : run.t1 - uaEnd - covered(serverBusy, uaEnd, run.t1),
    };
    if (record) contender.samples.set(round, sample);
    await checkHygiene(hygiene.get(contender.name)!, before, agent);
    return sample;
  };
  const started = now();
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (const contender of contenders) {
      if (!contender.failed) await runOne(contender, round, round >= WARMUP);
    }
    if ((round + 1) % 10 === 0) progress(`round ${round + 1}/${WARMUP + ROUNDS}, ${((now() - started) / 1000).toFixed(1)} s`);
  }

  // 3. Memory: tslab-oauth, then the baseline (the same server work), each after a warm-up and GC.
  const gc = collectGarbage();
  const memoryOf = async (contender: Contender): Promise<{ logins: number; rssBytes: number; heapBytes: number; heapSlopeBytes: number }> => {
    for (let i = 0; i < 10; i++) await runOne(contender, -1, false);
    const settle = (): NodeJS.MemoryUsage => {
      gc();
      gc();
      return process.memoryUsage();
    };
    const before = settle();
    // The heap after a full GC every 10 logins: its least-squares slope is the growth per login.
    const points: [number, number][] = [[0, before.heapUsed]];
    for (let i = 1; i <= MEMORY_LOGINS; i++) {
      await runOne(contender, -1, false);
      if (i % 10 === 0 && i < MEMORY_LOGINS) points.push([i, settle().heapUsed]);
    }
    const after = settle();
    points.push([MEMORY_LOGINS, after.heapUsed]);
    const mx = points.reduce((sum, [x]) => sum + x, 0) / points.length;
    const my = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
    const slope = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0) / points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
    return { logins: MEMORY_LOGINS, rssBytes: after.rss - before.rss, heapBytes: after.heapUsed - before.heapUsed, heapSlopeBytes: slope };
  };
  const memory = tslab.failed ? undefined : { tslab: await memoryOf(tslab), baseline: await memoryOf(baseline) };
  progress(`logins done, ${((now() - started) / 1000).toFixed(1)} s`);

  for (const contender of contenders) await contender.close?.();
  await idp.close();

  // 5. Import cost, in fresh processes.
  const imports: { name: string; command: string[] }[] = [
    { name: "bare Node (no import)", command: [process.execPath, "--input-type=module", "-e", nodeImportChild(undefined)] },
    // What users load: the published bundle (dist/, built by `npm run build`), not the test build.
    {
      name: "import(tslab-oauth)",
      command: [process.execPath, "--input-type=module", "-e", nodeImportChild(new URL("../../dist/index.js", import.meta.url).href)],
    },
    { name: 'import("openid-client")', command: [process.execPath, "--input-type=module", "-e", nodeImportChild(import.meta.resolve("openid-client"))] },
    { name: 'import("@azure/msal-node")', command: [process.execPath, "--input-type=module", "-e", nodeImportChild(import.meta.resolve("@azure/msal-node"))] },
    { name: "bare Python (no import)", command: [PYTHON, "-c", pythonImportChild(undefined)] },
    { name: "Python: import google_auth_oauthlib.flow", command: [PYTHON, "-c", pythonImportChild("google_auth_oauthlib.flow")] },
    { name: "Python: import requests_oauthlib", command: [PYTHON, "-c", pythonImportChild("requests_oauthlib")] },
  ];
  const importTimes = new Map<string, { importMs: number[]; processMs: number[]; failed?: string }>(
    imports.map((i) => [i.name, { importMs: [], processMs: [] }]),
  );
  for (let run = 0; run <= IMPORT_RUNS; run++) {
    for (const { name, command } of imports) {
      const times = importTimes.get(name)!;
      if (times.failed) continue;
      const t0 = now();
      const out = spawnSync(command[0]!, command.slice(1), { encoding: "utf8" });
      const t1 = now();
      if (out.status !== 0) {
        times.failed = `exit ${out.status ?? out.signal}: ${(out.error?.message ?? out.stderr).trim().split("\n").at(-1)}`;
        continue;
      }
      const { importMs } = JSON.parse(out.stdout.trim().split("\n").at(-1)!) as { importMs: number };
      if (run === 0) continue; // warm-up: the file cache
      times.importMs.push(importMs);
      times.processMs.push(t1 - t0);
    }
  }

  // Report.
  const base = baseline.samples;
  const rows = contenders.map((contender) => {
    const samples = [...contender.samples.values()];
    const ratios: number[] = [];
    const diffs: number[] = [];
    for (const [round, sample] of contender.samples) {
      const pair = base.get(round);
      if (pair) {
        ratios.push(sample.total / pair.total);
        diffs.push(sample.total - pair.total);
      }
    }
    const measured = samples.length > 0;
    return {
      name: contender.name,
      perLogin: contender.perLogin,
      inProcess: contender.inProcess,
      rounds: samples.length,
      failed: contender.failed && !contender.failed.startsWith("skipped") ? contender.failed : undefined,
      skipped: contender.failed?.startsWith("skipped") ?? false,
      total: measured ? stats(samples.map((s) => s.total)) : undefined,
      ratioToBaseline: ratios.length ? stats(ratios) : undefined,
      differenceToBaseline: diffs.length ? stats(diffs) : undefined,
      server: measured ? stats(samples.map((s) => s.server)) : undefined,
      userAgent: measured ? stats(samples.map((s) => s.ua)) : undefined,
      own: measured ? stats(samples.map((s) => s.own)) : undefined,
      ownBeforeBrowser: measured ? stats(samples.map((s) => s.ownBefore)) : undefined,
      ownAfterCallback: measured ? stats(samples.map((s) => s.ownAfter)) : undefined,
      hygiene: hygiene.get(contender.name),
    };
  });
  const tslabRow = rows.find((r) => r.name === tslab.name)!;
  const ownPairs: number[] = [];
  for (const [round, sample] of tslab.samples) {
    const pair = base.get(round);
    if (pair) ownPairs.push(sample.own - pair.own);
  }
  const importRows = imports.map(({ name }) => {
    const times = importTimes.get(name)!;
    return times.failed
      ? { name, runs: 0, failed: times.failed }
      : { name, runs: times.importMs.length, importMs: stats(times.importMs), processMs: stats(times.processMs) };
  });

  const lines = [
    `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim()}, ${new Date().toISOString().slice(0, 10)}; ${ROUNDS} rounds after ${WARMUP} warm-up rounds`,
    "",
    "Full interactive login (call → bearer token), interleaved; × baseline = median of per-round ratios",
    "",
    "| contender | rounds | median | p95 | × baseline | server | user agent | own (outside both) median / p95 | own: before the browser / after the callback |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) =>
      r.total
        ? `| ${r.name} | ${r.rounds} | ${ms(r.total.median)} | ${ms(r.total.p95)} | ${r.ratioToBaseline ? `${r.ratioToBaseline.median.toFixed(2)} ×` : ""} | ${ms(r.server!.median)} | ${ms(r.userAgent!.median)} | ${ms(r.own!.median)} / ${ms(r.own!.p95)} | ${ms(r.ownBeforeBrowser!.median)} / ${ms(r.ownAfterCallback!.median)} |`
        : `| ${r.name} | 0 | ${r.skipped ? "skipped" : "not measured"} | | | | | | |`,
    ),
    "",
    ...rows.map((r) => `- ${r.name}: ${r.perLogin}${r.failed ? `. FAILED: ${r.failed}` : ""}`),
    "- server: inside the IdP's request handling; user agent: from the URL handed to it to the callback reaching the listener (it includes the",
    "  server time of the pages it visits); own = total − |server ∪ user agent|. Python: own includes webbrowser's hand-off (it spawns $BROWSER).",
    ...(ownPairs.length
      ? [
          `- paired, tslab-oauth − baseline: total ${ms(tslabRow.differenceToBaseline!.median)} (p95 ${ms(tslabRow.differenceToBaseline!.p95)}), own ${ms(stats(ownPairs).median)} (p95 ${ms(stats(ownPairs).p95)})`,
        ]
      : []),
    "",
    "Listener hygiene, after every login (new active resources once the user agent is done; callback port probed)",
    "",
    "| contender | logins checked | new server handles (TCPServerWrap) when it resolved, max | one loop turn later, max | new resources of any type one turn later, max | callback port still accepting |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows
      .filter((r) => r.hygiene && r.hygiene.checks > 0)
      .map((r) => {
        const h = r.hygiene!;
        const types = Object.entries(h.maxNewTypes)
          .map(([type, n]) => `${n} ${type}`)
          .join(", ");
        return r.inProcess
          ? `| ${r.name} | ${h.checks} | ${h.maxNewListeningAtReturn} | ${h.maxNewListening} | ${h.maxNew}${types ? ` (${types})` : ""} | ${h.portStillOpen} |`
          : `| ${r.name} | ${h.checks} | n/a (other process) | n/a | n/a | ${h.portStillOpen} |`;
      }),
    "",
    "- a server handle is listed until the close phase of the event loop after server.close(): openid-client's listener is this benchmark's",
    "  (closed at the end, its 'close' event awaited), msal-node closes its server without waiting; neither is a leak if the next column is 0.",
    "",
    ...(memory
      ? [
          `Memory: ${MEMORY_LOGINS} logins in this process, after 10 warm-up logins and a full GC (both ends GC'd)`,
          "",
          "| contender | RSS growth | per login | heap used growth | per login | heap slope (GC'd every 10 logins), per login |",
          "| --- | ---: | ---: | ---: | ---: | ---: |",
          ...(
            [
              ["tslab-oauth", memory.tslab],
              ["baseline (same server work)", memory.baseline],
            ] as const
          ).map(
            ([name, m]) =>
              `| ${name} | ${(m.rssBytes / 2 ** 20).toFixed(2)} MiB | ${(m.rssBytes / m.logins / 1024).toFixed(1)} KiB | ${(m.heapBytes / 2 ** 20).toFixed(2)} MiB | ${(m.heapBytes / m.logins / 1024).toFixed(1)} KiB | ${(m.heapSlopeBytes / 1024).toFixed(1)} KiB |`,
          ),
          "",
        ]
      : []),
    `Import cost: fresh processes, interleaved, ${IMPORT_RUNS} runs each after one warm-up run`,
    "",
    "| what | import (inside the child) median | p95 | whole process median | p95 |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...importRows.map((r) =>
      r.importMs && r.processMs
        ? `| ${r.name} | ${ms(r.importMs.median)} | ${ms(r.importMs.p95)} | ${ms(r.processMs.median)} | ${ms(r.processMs.p95)} |`
        : `| ${r.name} | failed: ${r.failed} | | | |`,
    ),
    ...Object.entries(pythonImports).map(([name, value]) => `- ${name} worker: library import in its warm process took ${ms(value)}`),
  ];
  console.log(lines.join("\n"));
  console.log("\nJSON:");
  console.log(
    JSON.stringify(
      {
        node: process.version,
        cpus: cpus().length,
        date: new Date().toISOString(),
        rounds: ROUNDS,
        warmup: WARMUP,
        logins: rows,
        tslabMinusBaselineOwn: ownPairs.length ? stats(ownPairs) : undefined,
        memory,
        imports: importRows,
        pythonWorkerImportMs: pythonImports,
      },
      (_key, value: unknown) => (typeof value === "number" ? Math.round(value * 1000) / 1000 : value),
      1,
    ),
  );
} finally {
  for (const worker of workers) worker.kill();
  await idp.close();
  await new Promise<void>((resolve) => handoff.close(() => resolve()));
  rmSync(tmp, { recursive: true, force: true });
}

function nodeImportChild(specifier: string | undefined): string {
  return `const t0 = performance.now();${specifier ? ` await import(${JSON.stringify(specifier)});` : ""} const t1 = performance.now(); console.log(JSON.stringify({ startMs: t0, importMs: t1 - t0 }));`;
}

function pythonImportChild(module: string | undefined): string {
  return `import json, time\nt0 = time.perf_counter()\n${module ? `import ${module}\n` : ""}print(json.dumps({"importMs": (time.perf_counter() - t0) * 1000}))`;
}
