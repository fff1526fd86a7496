// `npm run bench` (part 3): what proxy support costs, side by side in one run.
//
//   1. warm login() with the proxy variables of a corporate network set (HTTPS_PROXY, HTTP_PROXY,
//      NO_PROXY) against the same with none: the variables are read and parsed on every call;
//   2. a refresh through a real proxy (Debian's tinyproxy, CONNECT) to an HTTPS provider under a
//      name that is not loopback (idp.tslab-oauth.test in /etc/hosts, see scripts/install-system-
//      deps.sh): login() that refreshes against the raw refresh request through one undici
//      ProxyAgent kept for the whole run, interleaved A B A B. An agent rebuilt per request would
//      pay a new tunnel and TLS handshake each time, and show here.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ProxyAgent, request } from "undici";
import { DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, type LoginConfig } from "../src/index.js";
import { makeCertificates } from "../test/support/certificates.js";
import { TEST_HOST, ensureTestHost, startTinyproxy, tinyproxyVersion } from "../test/support/proxy.js";
import { ScriptedUserAgent } from "../test/support/user-agent.js";

const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? 5000);
const PAIRS = Number(process.env.BENCH_PROXY_PAIRS ?? 100);

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
function p95(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!;
}
const ms = (value: number): string => (value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(2)} ms`);
const noBrowser = (): never => {
  throw new Error("the benchmark needed a browser");
};

await ensureTestHost();
const cacheDir = mkdtempSync(join(tmpdir(), "tslab-oauth-bench-proxy-"));
const certs = makeCertificates({ dnsNames: [TEST_HOST] });
const idp = await startDemoIdp({ tls: { key: certs.key, cert: certs.cert }, hostname: TEST_HOST });
const proxy = await startTinyproxy();
const base: LoginConfig = { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], cacheDir, ca: certs.ca, flow: "loopback" };
const file = join(cacheDir, "tokens.json");
const corporate = { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: "localhost,127.0.0.1,.internal.example,10.0.0.0/8" };
try {
  Object.assign(process.env, corporate);
  await login({ ...base, openBrowser: new ScriptedUserAgent({ ca: certs.ca }).open });
  await login({ ...base, profile: "raw", openBrowser: new ScriptedUserAgent({ ca: certs.ca }).open });

  // 1. Warm login, with and without the variables, interleaved.
  const withVars: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < WARM_RUNS + 200; i++) {
    Object.assign(process.env, corporate);
    const t0 = performance.now();
    await login({ ...base, openBrowser: noBrowser });
    const t1 = performance.now();
    for (const name of Object.keys(corporate)) delete process.env[name];
    const t2 = performance.now();
    await login({ ...base, openBrowser: noBrowser });
    const t3 = performance.now();
    if (i >= 200) {
      withVars.push(t1 - t0);
      without.push(t3 - t2);
    }
  }

  // 2. Refresh through the proxy: login() against the raw request through one ProxyAgent.
  Object.assign(process.env, corporate);
  const entries = (): Record<string, { profile?: string; expiresAt?: number; obtainedAt: number; refreshToken: string }> =>
    JSON.parse(readFileSync(file, "utf8"));
  const expire = (): void => {
    const data = entries();
    for (const entry of Object.values(data)) {
      if (entry.profile === undefined) {
        entry.expiresAt = Date.now() - 1000;
        entry.obtainedAt = Date.now() - 3_600_000;
      }
    }
    writeFileSync(file, JSON.stringify(data, null, "\t"), { mode: 0o600 });
  };
  let rawToken = Object.values(entries()).find((e) => e.profile === "raw")!.refreshToken;
  const agent = new ProxyAgent({ uri: proxy.url, requestTls: { ca: certs.ca } });
  const raw = async (): Promise<void> => {
    const res = await request(`${idp.issuer}/token`, {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: rawToken, client_id: DEMO_CLIENT_ID }).toString(),
    });
    const body = (await res.body.json()) as { refresh_token?: string };
    if (!body.refresh_token) throw new Error(`raw refresh failed (${res.statusCode})`);
    rawToken = body.refresh_token;
  };
  const ours: number[] = [];
  const theirs: number[] = [];
  const diffs: number[] = [];
  const tunnelsBefore = proxy.tunnels().length;
  for (let i = 0; i < PAIRS + 10; i++) {
    const t0 = performance.now();
    await raw();
    const t1 = performance.now();
    expire();
    const t2 = performance.now();
    await login({ ...base, openBrowser: noBrowser });
    const t3 = performance.now();
    if (i >= 10) {
      theirs.push(t1 - t0);
      ours.push(t3 - t2);
      diffs.push(t3 - t2 - (t1 - t0));
    }
  }
  const tunnels = proxy.tunnels().length - tunnelsBefore;
  await agent.close();

  console.log(
    [
      `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim()}, ${new Date().toISOString().slice(0, 10)}, ${tinyproxyVersion()}`,
      "",
      "| what | runs | median | p95 | ratio (median) |",
      "| --- | ---: | ---: | ---: | ---: |",
      `| warm \`login()\` with HTTPS_PROXY, HTTP_PROXY, NO_PROXY set | ${withVars.length} | ${ms(median(withVars))} | ${ms(p95(withVars))} | ${(median(withVars) / median(without)).toFixed(2)} × without |`,
      `| warm \`login()\` without proxy variables, interleaved | ${without.length} | ${ms(median(without))} | ${ms(p95(without))} | 1 |`,
      `| \`login()\` that refreshes, through tinyproxy to https://${TEST_HOST} | ${ours.length} | ${ms(median(ours))} | ${ms(p95(ours))} | ${(median(ours) / median(theirs)).toFixed(2)} × raw |`,
      `| raw refresh request through one undici ProxyAgent, interleaved | ${theirs.length} | ${ms(median(theirs))} | ${ms(p95(theirs))} | 1 |`,
      `| refresh overhead through the proxy: paired difference | ${diffs.length} | ${ms(median(diffs))} | ${ms(p95(diffs))} | |`,
      `| tunnels (CONNECT) opened for ${2 * (PAIRS + 10)} refreshes, both sides | | ${tunnels} | | |`,
    ].join("\n"),
  );
} finally {
  for (const name of Object.keys(corporate)) delete process.env[name];
  await proxy.close();
  await idp.close();
  rmSync(cacheDir, { recursive: true, force: true });
}
