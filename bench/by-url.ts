// `npm run bench`: a first sign-in to an API by its URL alone (#26), side by side in one run with
// the MCP TypeScript SDK client's `auth()`, on the same servers (a real oidc-provider with
// registration and resource indicators, and the demo API, both in this process on loopback) and the
// same scripted user agent. Each round starts from nothing: no saved sign-in, no registered client,
// no metadata reused in the process. Measured: time from the call to the first API answer with
// the token, and the requests each made (to the provider and to the API).
//
//   - tslab-oauth: `session({ resource })` then `api.fetch()`: probe, metadata, server metadata,
//     registration, sign-in, exchange, the call;
//   - MCP SDK: an unauthenticated call to the API (what an MCP client's first request is: its 401
//     names the metadata), then `auth()` (metadata, server metadata, registration, redirect), the
//     browser, `auth()` again with the code (exchange), then the call. Its client needs a loopback
//     listener of its own for the redirect: started and closed in each round, as ours is.
//
// Then a second `login({ resource })` in the same process: the saved sign-in, no request at all.
import { createServer } from "node:http";
import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { auth, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { startDemoApi } from "../demo/api.js";
import { startDemoIdp } from "../demo/idp.js";
import { login, session } from "../src/index.js";
import { forgetMetadata } from "../src/protocol/metadata-memo.js";
import { forgetMemoryClients } from "../src/store/token-store.js";
import { ScriptedUserAgent } from "../test/support/user-agent.js";

const ROUNDS = Number(process.env.BENCH_BY_URL_ROUNDS ?? 30);
const WARMUP = 3;

const median = (samples: number[]): number => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
const ms = (value: number): string => `${value.toFixed(2)} ms`;

const idp = await startDemoIdp({ registration: "open", resourceIndicators: true });
const api = await startDemoApi({ idp });
const requestsSoFar = (): number => [...idp.counts.values()].reduce((a, b) => a + b, 0) + api.seen.length;

async function tslabOauth(cache = true): Promise<void> {
  process.env.TSLAB_OAUTH_CACHE_DIR = mkdtempSync(join(tmpdir(), "bench-by-url-"));
  forgetMetadata();
  if (!cache) forgetMemoryClients();
  const s = await session({ resource: api.resource, flow: "loopback", openBrowser: new ScriptedUserAgent().open, quiet: true, timeout: 20, cache });
  const res = await s.fetch(`${api.resource}/me`);
  if (res.status !== 200) throw new Error(`tslab-oauth: the API answered ${res.status}`);
  await res.body?.cancel();
}

// The MCP SDK's client leaves the redirect to the application: a listener for its callbacks.
async function mcpSdk(): Promise<void> {
  // Its redirect listener, started and closed in the round as ours is (an MCP client in a terminal does the same).
  let deliver: (code: string) => void = () => {};
  const listener = createServer((req, res) => {
    const code = new URL(req.url ?? "/", "http://127.0.0.1").searchParams.get("code");
    res.writeHead(200, { "content-type": "text/plain" }).end("signed in");
    if (code) deliver(code);
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const redirectUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/callback`;
  const store: { client?: unknown; tokens?: { access_token: string }; verifier?: string } = {};
  const ua = new ScriptedUserAgent();
  const provider: OAuthClientProvider = {
    get redirectUrl() {
      return redirectUrl;
    },
    get clientMetadata() {
      return {
        client_name: "bench",
        redirect_uris: [redirectUrl],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
      };
    },
    clientInformation: () => store.client as never,
    saveClientInformation: (info) => void (store.client = info),
    tokens: () => store.tokens as never,
    saveTokens: (tokens) => void (store.tokens = tokens),
    redirectToAuthorization: (url) => void ua.open(url.href),
    saveCodeVerifier: (verifier) => void (store.verifier = verifier),
    codeVerifier: () => store.verifier!,
  };
  const code = new Promise<string>((resolve) => (deliver = resolve));
  // An MCP client's first request: the 401's challenge names the metadata.
  const first = await fetch(`${api.resource}/me`);
  await first.body?.cancel();
  const named = /resource_metadata="([^"]+)"/.exec(first.headers.get("www-authenticate") ?? "")?.[1];
  const options = { serverUrl: api.resource, ...(named ? { resourceMetadataUrl: new URL(named) } : {}) };
  if ((await auth(provider, options)) !== "REDIRECT") throw new Error("MCP SDK: expected a redirect");
  if ((await auth(provider, { ...options, authorizationCode: await code })) !== "AUTHORIZED") throw new Error("MCP SDK: not authorized");
  const res = await fetch(`${api.resource}/me`, { headers: { authorization: `Bearer ${store.tokens!.access_token}` } });
  if (res.status !== 200) throw new Error(`MCP SDK: the API answered ${res.status}`);
  await res.body?.cancel();
  await new Promise((resolve) => listener.close(resolve));
}

const contenders = [
  { name: "tslab-oauth `session({ resource })` + `fetch()`", run: tslabOauth, times: [] as number[], requests: [] as number[] },
  {
    name: "tslab-oauth, kept in memory (`cache: false`), as the SDK's provider here",
    run: () => tslabOauth(false),
    times: [] as number[],
    requests: [] as number[],
  },
  { name: "MCP TypeScript SDK `auth()` (1.32) + fetch", run: mcpSdk, times: [] as number[], requests: [] as number[] },
];
for (let round = 0; round < ROUNDS + WARMUP; round++) {
  const order = round % 2 === 0 ? contenders : [...contenders].reverse();
  for (const c of order) {
    const before = requestsSoFar();
    const t0 = performance.now();
    await c.run();
    const elapsed = performance.now() - t0;
    if (round >= WARMUP) {
      c.times.push(elapsed);
      c.requests.push(requestsSoFar() - before);
    }
  }
}
// A second call in the same process, after a sign-in by URL: the saved sign-in answers.
process.env.TSLAB_OAUTH_CACHE_DIR = mkdtempSync(join(tmpdir(), "bench-by-url-"));
await login({ resource: api.resource, flow: "loopback", openBrowser: new ScriptedUserAgent().open, quiet: true });
const before = requestsSoFar();
const t0 = performance.now();
await login({ resource: api.resource, flow: "loopback", openBrowser: () => Promise.reject(new Error("no browser")), quiet: true });
const second = performance.now() - t0;
const secondRequests = requestsSoFar() - before;

const base = median(contenders[2]!.times);
const lines = [
  `### A first sign-in by URL (\`bench/by-url.ts\`): ${ROUNDS} rounds each, interleaved, ${WARMUP} warm-up rounds, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim()}`,
  "",
  "| contender | median | p90 | × MCP SDK | requests (provider + API), median |",
  "| --- | ---: | ---: | ---: | ---: |",
  ...contenders.map((c) => {
    const sorted = [...c.times].sort((a, b) => a - b);
    return `| ${c.name} | ${ms(median(c.times))} | ${ms(sorted[Math.floor(sorted.length * 0.9)]!)} | ${(median(c.times) / base).toFixed(2)} × | ${median(c.requests)} |`;
  }),
  "",
  `A second \`login({ resource })\` in the same process: ${(second * 1000).toFixed(0)} µs, ${secondRequests} requests.`,
];
console.log(lines.join("\n"));
await api.close();
await idp.close();
