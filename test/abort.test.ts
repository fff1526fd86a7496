// `signal` ends a call with ABORTED at every stage (README, `signal`; #28 §2): while the server's
// metadata is fetched (before any browser opens), while a pushed request is sent, while the sign-in
// waits, while the code is exchanged, while a saved sign-in is refreshed. Real oidc-provider; a gate
// in front of it holds the one request of the stage under test unanswered until the caller aborts,
// the way a slow or stuck provider does. Each time: the code, no listener or timer left, the saved
// sign-in untouched.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { after, beforeEach, test } from "node:test";
import { DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, LoginError, type LoginConfig } from "../src/index.js";
import { expireSavedSignIns, isolateCache } from "./support/fixtures.js";
import { openHandles, visibleText } from "./support/leaks.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const idp = await startDemoIdp({ par: true });
/** The path whose next request is held until the client gives up on it. */
let hold: string | undefined;
let held: () => void = () => {};
const oidcProvider = idp.server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
idp.server.removeAllListeners("request");
idp.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
  if (hold !== undefined && (req.url ?? "").split("?")[0] === hold) {
    hold = undefined;
    req.socket.once("close", () => res.destroy());
    return held();
  }
  for (const listener of oidcProvider) listener(req, res);
});
after(() => idp.close());
let cacheDir = "";
beforeEach(() => {
  cacheDir = isolateCache();
  hold = undefined;
});

const config = (extra: Partial<LoginConfig> = {}): LoginConfig => ({
  issuer: idp.issuer,
  clientId: DEMO_CLIENT_ID,
  scopes: ["openid", "offline_access"],
  flow: "loopback",
  timeout: 30,
  ...extra,
});

/** Runs login() with `path` held, aborts once that request has arrived, and returns the error. */
async function abortAt(path: string, extra: Partial<LoginConfig> = {}): Promise<LoginError> {
  const controller = new AbortController();
  hold = path;
  const arrived = new Promise<void>((resolve) => (held = resolve));
  const call = login(config({ ...extra, signal: controller.signal })).then(
    () => assert.fail(`login() signed in although ${path} was never answered`),
    (error: unknown) => error,
  );
  await arrived;
  controller.abort();
  const error = await call;
  assert.ok(error instanceof LoginError, String(error));
  return error;
}

const assertAborted = (error: LoginError): void => {
  assert.equal(error.code, "ABORTED", error.message);
  assert.match(error.message, /aborted/i);
};

test("an abort while the server's metadata is fetched is ABORTED, not DISCOVERY_FAILED, and no browser opened", async () => {
  const before = await openHandles();
  let opened = false;
  const error = await abortAt("/.well-known/openid-configuration", { openBrowser: () => void (opened = true) });
  assertAborted(error);
  assert.equal(opened, false);
  assert.deepEqual(await openHandles(), before);
});

test("an abort while the authorization request is pushed (PAR) is ABORTED, and the listener closed", async () => {
  const before = await openHandles();
  assertAborted(await abortAt("/request", { openBrowser: () => assert.fail("the browser opened before the push was answered") }));
  assert.deepEqual(await openHandles(), before);
});

test("an abort while the code is exchanged is ABORTED; the code is not in the error", async () => {
  const before = await openHandles();
  const ua = new ScriptedUserAgent();
  const error = await abortAt("/token", { openBrowser: ua.open });
  assertAborted(error);
  const code = (await ua.last!).callbackUrl?.searchParams.get("code");
  assert.ok(code);
  assert.ok(!visibleText(error).includes(code), "the code is not shown");
  assert.deepEqual(await openHandles(), before);
});

test("an abort while a saved sign-in is refreshed is ABORTED, and the saved sign-in is kept byte for byte", async () => {
  await login(config({ openBrowser: new ScriptedUserAgent().open }));
  expireSavedSignIns(cacheDir);
  const file = join(cacheDir, "tokens.json");
  const saved = readFileSync(file, "utf8");
  const error = await abortAt("/token", { openBrowser: () => assert.fail("no browser for an aborted refresh") });
  assertAborted(error);
  assert.equal(readFileSync(file, "utf8"), saved);
});

test("an abort while the sign-in waits for the browser is ABORTED, with the listener closed", async () => {
  const controller = new AbortController();
  const before = await openHandles();
  const call = login(config({ par: false, openBrowser: () => void setTimeout(() => controller.abort(), 50), signal: controller.signal })).catch(
    (e: unknown) => e,
  );
  const error = (await call) as LoginError;
  assert.ok(error instanceof LoginError);
  assertAborted(error);
  assert.deepEqual(await openHandles(), before);
});
