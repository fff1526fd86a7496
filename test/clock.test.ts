// A wrong clock is named as such (#28 §3). The provider runs in its own process under libfaketime
// (Debian's faketime), its clock off from this machine's by minutes to hours, as a laptop that slept,
// a VM or a clock set by hand would be. Its `Date` header says what time it is there.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { login, LoginError, type LoginConfig } from "../src/index.js";
import { isolateCache } from "./support/fixtures.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const IDP = fileURLToPath(new URL("./support/idp-process.js", import.meta.url));
/** The providers' own pids: faketime may run node as a child of its own. */
const running: number[] = [];
after(() => running.forEach((pid) => process.kill(pid, "SIGKILL")));

/** A provider whose clock is `offset` from ours ("+10m", "-2h"...); ID tokens live 5 minutes. */
async function providerWithClock(offset: string): Promise<string> {
  const child = spawn("faketime", ["-f", offset, process.execPath, IDP, JSON.stringify({ idTokenTtl: 300 })], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("error", (error) => reject(new Error(`faketime could not be run (sh scripts/install-system-deps.sh installs it): ${error.message}`)));
    child.stdout!.once("data", (chunk: Buffer) => {
      const { issuer, pid } = JSON.parse(String(chunk)) as { issuer: string; pid: number };
      running.push(pid);
      child.stdout!.destroy();
      resolve(issuer);
    });
  });
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
