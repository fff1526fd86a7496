// `npm run bench`: what `store: "keychain"` costs against `store: "file"`, side by side in one run,
// against a real local oidc-provider and a real Secret Service (gnome-keyring on a private D-Bus
// session bus, as the tests run it: test/support/secret-service.ts).
//
//   1. warm login(): a valid saved token, in a process that already read the folder's key once,
//      keychain and file interleaved A B A B (same server and machine state for both);
//   2. refresh: login() with an expired saved token, keychain and file interleaved (each its own
//      grant); the keychain side seals the rotated token, the file side writes it in the clear;
//   3. a restarted kernel: a fresh process that imports tslab-oauth and logs in from the saved
//      token, with the keychain (binding loaded, key read over D-Bus), with the file, and with
//      "auto" where there is no D-Bus session (the binding loaded and the store found missing: what
//      every server and container pays).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, type LoginConfig } from "../src/index.js";
import { startSecretService } from "../test/support/secret-service.js";
import { ScriptedUserAgent } from "../test/support/user-agent.js";

const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? 3000);
const REFRESH_PAIRS = Number(process.env.BENCH_REFRESH_PAIRS ?? 150);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 9);

const median = (samples: number[]): number => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
const ms = (value: number): string => (value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(2)} ms`);

const keyring = await startSecretService();
process.env.DBUS_SESSION_BUS_ADDRESS = keyring.address;
const idp = await startDemoIdp();
const dirs = { keychain: mkdtempSync(join(tmpdir(), "tslab-oauth-bench-kc-")), file: mkdtempSync(join(tmpdir(), "tslab-oauth-bench-file-")) };
const base = (store: "keychain" | "file", extra: Partial<LoginConfig> = {}): LoginConfig => ({
  issuer: idp.issuer,
  clientId: DEMO_CLIENT_ID,
  scopes: ["openid", "profile"],
  flow: "loopback",
  cacheDir: dirs[store],
  store,
  ...extra,
});
const noBrowser = (): never => {
  throw new Error("the benchmark needed a browser");
};
const expire = (dir: string): void => {
  const file = join(dir, "tokens.json");
  const data = JSON.parse(readFileSync(file, "utf8")) as Record<string, { profile?: string; expiresAt?: number; obtainedAt: number }>;
  for (const entry of Object.values(data)) {
    if (entry.profile === "refresh") {
      entry.expiresAt = Date.now() - 1000;
      entry.obtainedAt = Date.now() - 3_600_000;
    }
  }
  writeFileSync(file, JSON.stringify(data), { mode: 0o600 });
};
try {
  for (const store of ["keychain", "file"] as const) {
    await login(base(store, { openBrowser: new ScriptedUserAgent().open }));
    await login(base(store, { profile: "refresh", openBrowser: new ScriptedUserAgent().open }));
  }

  // 1. Warm login, interleaved.
  const warm = { keychain: [] as number[], file: [] as number[] };
  for (let i = 0; i < WARM_RUNS + 200; i++) {
    for (const store of i % 2 ? (["file", "keychain"] as const) : (["keychain", "file"] as const)) {
      const t0 = performance.now();
      await login(base(store, { openBrowser: noBrowser }));
      if (i >= 200) warm[store].push(performance.now() - t0);
    }
  }

  // 2. Refresh, interleaved.
  const refresh = { keychain: [] as number[], file: [] as number[] };
  for (let i = 0; i < REFRESH_PAIRS + 10; i++) {
    for (const store of i % 2 ? (["file", "keychain"] as const) : (["keychain", "file"] as const)) {
      expire(dirs[store]);
      const t0 = performance.now();
      await login(base(store, { profile: "refresh", openBrowser: noBrowser }));
      if (i >= 10) refresh[store].push(performance.now() - t0);
    }
  }

  // 3. A restarted kernel, interleaved.
  const child = fileURLToPath(new URL("./cold-login.js", import.meta.url));
  const noBus = { ...process.env };
  delete noBus.DBUS_SESSION_BUS_ADDRESS;
  delete noBus.XDG_RUNTIME_DIR;
  const autoDir = mkdtempSync(join(tmpdir(), "tslab-oauth-bench-auto-"));
  // The file store's sign-ins, as a server that never had a secret store saved them.
  writeFileSync(join(autoDir, "tokens.json"), readFileSync(join(dirs.file, "tokens.json")), { mode: 0o600 });
  const cold = { keychain: [] as number[], file: [] as number[], auto: [] as number[] };
  for (let i = 0; i < COLD_RUNS; i++) {
    for (const kind of ["keychain", "file", "auto"] as const) {
      const config = kind === "auto" ? { ...base("file"), cacheDir: autoDir, store: "auto" } : base(kind);
      const out = spawnSync(process.execPath, [child, JSON.stringify(config)], { encoding: "utf8", env: kind === "auto" ? noBus : process.env });
      if (out.status !== 0) throw new Error(`cold run (${kind}) failed: ${out.stderr}`);
      const { importMs, loginMs } = JSON.parse(out.stdout.trim().split("\n").pop()!) as { importMs: number; loginMs: number };
      cold[kind].push(importMs + loginMs);
    }
  }
  rmSync(autoDir, { recursive: true, force: true });

  const row = (what: string, a: number, b: number): string => `| ${what} | ${ms(a)} | ${ms(b)} | ${(a / b).toFixed(2)}× |`;
  console.log(`\n## keychain against file (Node ${process.version}, ${cpus().length} cores, gnome-keyring on a private D-Bus session)\n`);
  console.log("| median | keychain | file | keychain / file |\n| --- | --- | --- | --- |");
  console.log(row(`warm login() (${WARM_RUNS} each, interleaved)`, median(warm.keychain), median(warm.file)));
  console.log(row(`refresh through login() (${REFRESH_PAIRS} each, interleaved)`, median(refresh.keychain), median(refresh.file)));
  console.log(row(`restarted kernel: import + first login() (${COLD_RUNS} each)`, median(cold.keychain), median(cold.file)));
  console.log(row(`restarted kernel, "auto" with no D-Bus session, against file`, median(cold.auto), median(cold.file)));
} finally {
  await idp.close();
  await keyring.close();
  for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
}
