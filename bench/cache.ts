// `npm run bench`: what the token cache costs and saves, side by side in one run, against a real
// local oidc-provider (in this process, on loopback).
//
//   1. warm login(): a valid saved token, in a process that already loaded the library, against
//      the floor of any disk-backed cache (read the same file and JSON.parse it);
//   2. refresh: login() with an expired saved token (lock, read, refresh request, validation,
//      rotated token written) against the raw refresh request alone (undici POST + JSON), interleaved
//      A B A B so that both see the same server and machine state; the overhead is the median of the
//      pairwise differences;
//   3. first login() after a kernel restart: a fresh Node process that imports tslab-oauth and finds
//      a saved token (module loading included).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, type LoginConfig } from "../src/index.js";
import { ScriptedUserAgent } from "../test/support/user-agent.js";

const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? 5000);
const REFRESH_PAIRS = Number(process.env.BENCH_REFRESH_PAIRS ?? 300);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 7);

function stats(samples: number[]): { median: number; p95: number; min: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p95: at(0.95), min: sorted[0]! };
}
const ms = (value: number): string => (value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(2)} ms`);

const cacheDir = mkdtempSync(join(tmpdir(), "tslab-oauth-bench-"));
const idp = await startDemoIdp();
const base: LoginConfig = { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid", "profile"], cacheDir };
const file = join(cacheDir, "tokens.json");
try {
  // Seed: one interactive sign-in per entry used below.
  await login({ ...base, openBrowser: new ScriptedUserAgent().open });
  await login({ ...base, profile: "refresh", openBrowser: new ScriptedUserAgent().open });
  const noBrowser = (): never => {
    throw new Error("the benchmark needed a browser");
  };

  // 1. Warm login vs reading the file.
  const warm: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < WARM_RUNS + 200; i++) {
    const t0 = performance.now();
    await login({ ...base, openBrowser: noBrowser });
    const t1 = performance.now();
    JSON.parse(readFileSync(file, "utf8"));
    const t2 = performance.now();
    if (i >= 200) {
      warm.push(t1 - t0);
      floor.push(t2 - t1);
    }
  }

  // 2. Refresh through login() vs the raw refresh request, interleaved.
  const expire = (): void => {
    const data = JSON.parse(readFileSync(file, "utf8")) as Record<string, { profile?: string; expiresAt?: number; obtainedAt: number }>;
    for (const entry of Object.values(data)) {
      if (entry.profile === "refresh") {
        entry.expiresAt = Date.now() - 1000;
        entry.obtainedAt = Date.now() - 3_600_000;
      }
    }
    writeFileSync(file, JSON.stringify(data, null, "\t"), { mode: 0o600 });
  };
  // The raw side has its own grant, so that neither side ever reuses the other's refresh token.
  const ua = new ScriptedUserAgent();
  await login({ ...base, profile: "raw", openBrowser: ua.open });
  let rawRefreshToken = (Object.values(JSON.parse(readFileSync(file, "utf8"))) as { profile?: string; refreshToken: string }[]).find(
    (e) => e.profile === "raw",
  )!.refreshToken;
  const rawRefresh = async (): Promise<void> => {
    const res = await request(`${idp.issuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: rawRefreshToken, client_id: DEMO_CLIENT_ID }).toString(),
    });
    const body = (await res.body.json()) as { refresh_token?: string; error?: string };
    if (res.statusCode !== 200 || !body.refresh_token) throw new Error(`raw refresh failed: ${body.error}`);
    rawRefreshToken = body.refresh_token;
  };
  const raw: number[] = [];
  const ours: number[] = [];
  const diffs: number[] = [];
  for (let i = 0; i < REFRESH_PAIRS + 20; i++) {
    const t0 = performance.now();
    await rawRefresh();
    const t1 = performance.now();
    expire();
    const t2 = performance.now();
    await login({ ...base, profile: "refresh", openBrowser: noBrowser });
    const t3 = performance.now();
    if (i >= 20) {
      raw.push(t1 - t0);
      ours.push(t3 - t2);
      diffs.push(t3 - t2 - (t1 - t0));
    }
  }

  // 3. A fresh process (a restarted kernel) that finds the saved token.
  const child = fileURLToPath(new URL("./cold-login.js", import.meta.url));
  const coldImport: number[] = [];
  const coldLogin: number[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const out = spawnSync(process.execPath, [child, JSON.stringify(base)], { encoding: "utf8" });
    if (out.status !== 0) throw new Error(`cold run failed: ${out.stderr}`);
    const { importMs, loginMs } = JSON.parse(out.stdout.trim().split("\n").at(-1)!) as { importMs: number; loginMs: number };
    coldImport.push(importMs);
    coldLogin.push(loginMs);
  }

  const w = stats(warm);
  const f = stats(floor);
  const r = stats(raw);
  const o = stats(ours);
  const d = stats(diffs);
  const ci = stats(coldImport);
  const cl = stats(coldLogin);
  const lines = [
    `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim()}, ${new Date().toISOString().slice(0, 10)}`,
    "",
    "| what | runs | median | p95 | ratio (median) |",
    "| --- | ---: | ---: | ---: | ---: |",
    `| warm \`login()\` (valid saved token, no request) | ${warm.length} | ${ms(w.median)} | ${ms(w.p95)} | ${(w.median / f.median).toFixed(1)} × the floor |`,
    `| floor: read + \`JSON.parse\` the same cache file | ${floor.length} | ${ms(f.median)} | ${ms(f.p95)} | 1 |`,
    `| \`login()\` that refreshes (lock, read, refresh, validate, write) | ${ours.length} | ${ms(o.median)} | ${ms(o.p95)} | ${(o.median / r.median).toFixed(2)} × raw |`,
    `| raw refresh request (undici POST + JSON), interleaved | ${raw.length} | ${ms(r.median)} | ${ms(r.p95)} | 1 |`,
    `| refresh overhead: paired difference, ours − raw | ${diffs.length} | ${ms(d.median)} | ${ms(d.p95)} | |`,
    `| fresh process: \`import("tslab-oauth")\` | ${COLD_RUNS} | ${ms(ci.median)} | ${ms(ci.p95)} | |`,
    `| fresh process: first \`login()\` from the cache (reads the file; conf, undici not loaded) | ${COLD_RUNS} | ${ms(cl.median)} | ${ms(cl.p95)} | |`,
  ];
  console.log(lines.join("\n"));
} finally {
  await idp.close();
  rmSync(cacheDir, { recursive: true, force: true });
}
