// A wrong clock is named as such (#28 §3). The provider runs in its own process under libfaketime
// (Debian's faketime), its clock off from this machine's by minutes to hours, as a laptop that slept,
// a VM or a clock set by hand would be. Its `Date` header says what time it is there.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { login, LoginError, type LoginConfig } from "../src/index.js";
import { expireSavedSignIns, isolateCache } from "./support/fixtures.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const IDP = fileURLToPath(new URL("./support/idp-process.js", import.meta.url));
/** The providers' pids, killed when the file's tests end. */
const running: number[] = [];
after(() =>
  running.forEach((pid) => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }),
);

/**
 * A provider whose clock is `offset` from ours ("+10m", "-2h"...); ID tokens live 5 minutes. With
 * a file, the offset is read from it at every clock reading (libfaketime's FAKETIME_TIMESTAMP_FILE).
 * Only the wall clock is faked: a monotonic clock moved ahead puts every absolute deadline of node's
 * own threads (libuv, V8's platform) an hour away, and the process can hang before it listens, as it
 * did in CI with the `faketime -f +1h` wrapper.
 */
async function providerWithClock(offset: string | { file: string }): Promise<string> {
  const child = spawn(process.execPath, [IDP, JSON.stringify({ idTokenTtl: 300 })], {
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      LD_PRELOAD: libfaketime(),
      ...(typeof offset === "string" ? { FAKETIME: offset } : { FAKETIME_TIMESTAMP_FILE: offset.file, FAKETIME_NO_CACHE: "1" }),
      FAKETIME_DONT_FAKE_MONOTONIC: "1",
    },
  });
  running.push(child.pid!);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the provider with its clock at ${JSON.stringify(offset)} did not start within 20 s`));
    }, 20_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`node could not be run under libfaketime: ${error.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the provider with its clock at ${JSON.stringify(offset)} exited (${signal ?? code}) before it listened`));
    });
    child.stdout!.once("data", (chunk: Buffer) => {
      clearTimeout(timer);
      child.stdout!.destroy();
      resolve((JSON.parse(String(chunk)) as { issuer: string }).issuer);
    });
  });
}
function libfaketime(): string {
  const dir = readdirSync("/usr/lib").find((name) => existsSync(`/usr/lib/${name}/faketime/libfaketime.so.1`));
  assert.ok(dir, "libfaketime is installed (sh scripts/install-system-deps.sh)");
  return `/usr/lib/${dir}/faketime/libfaketime.so.1`;
}
const config = (issuer: string): LoginConfig => ({
  issuer,
  clientId: "tslab-demo",
  scopes: ["openid", "profile"],
  flow: "loopback",
  timeout: 20,
  cache: false,
  openBrowser: new ScriptedUserAgent().open,
});

test("this machine 10 minutes ahead: the ID token (5 minutes' life) is judged by the server's clock, and the sign-in works", async () => {
  isolateCache();
  const headers = await login(config(await providerWithClock("-10m")));
  assert.match(headers.Authorization, /^Bearer /);
});

test("this machine 10 minutes behind: the sign-in works", async () => {
  isolateCache();
  const headers = await login(config(await providerWithClock("+10m")));
  assert.match(headers.Authorization, /^Bearer /);
});

for (const [offset, said] of [
  ["-2h", /This machine's clock is 2 h 0 min ahead of 127\.0\.0\.1:\d+'s/],
  ["+1h", /This machine's clock is 1 h 0 min behind 127\.0\.0\.1:\d+'s/],
] as const) {
  test(`this machine's clock ${offset.startsWith("-") ? "ahead" : "behind"} by ${offset.slice(1)}: CLOCK_SKEW says so and by how much, never the provider's fault`, async () => {
    isolateCache();
    const error = await login(config(await providerWithClock(offset))).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError, String(error));
    assert.equal(error.code, "CLOCK_SKEW", error.message);
    assert.match(error.message, said);
    assert.match(error.message, /Set this machine's clock/);
    assert.doesNotMatch(error.message, /administrator/);
  });
}

test("a clock found off at a refresh: the rotated refresh token is saved first, then CLOCK_SKEW; once the clocks agree, no browser is needed", async () => {
  const cacheDir = isolateCache();
  const file = join(cacheDir, "provider-clock");
  writeFileSync(file, "+0");
  const issuer = await providerWithClock({ file });
  const saved = { ...config(issuer), cache: true, scopes: ["openid", "offline_access"] };
  await login(saved);
  const before = expireSavedSignIns(cacheDir)[0]!.refreshToken;
  writeFileSync(file, "+1h");
  await sleep(1100); // node's http server writes the Date it read at most a second ago
  const error = await login({ ...saved, openBrowser: () => assert.fail("no browser") }).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError && error.code === "CLOCK_SKEW", String(error));
  const rotated = (Object.values(JSON.parse(readFileSync(join(cacheDir, "tokens.json"), "utf8"))) as { refreshToken: string }[])[0]!.refreshToken;
  assert.notEqual(rotated, before, "the refresh token the server rotated to is saved");
  writeFileSync(file, "+0");
  await sleep(1100);
  expireSavedSignIns(cacheDir);
  const headers = await login({ ...saved, openBrowser: () => assert.fail("the saved refresh token works") });
  assert.match(headers.Authorization, /^Bearer /);
});
