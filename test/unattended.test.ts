// Beyond the interactive cell (issue #19): the `tslab-oauth token | status | logout` commands on the
// notebook's cache, runs with nobody at a browser (`interactive: false`, TSLAB_OAUTH_INTERACTIVE=0),
// and service accounts (the client credentials grant), against the real demo oidc-provider.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, beforeEach, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEMO_CLIENT_ID, SERVICE_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, logout, session, LoginError, type LoginConfig } from "../src/index.js";
import { isolateCache } from "./support/fixtures.js";
import { assertNoSecret, visibleText } from "./support/leaks.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const BIN = fileURLToPath(new URL("../../dist/cli/bin.js", import.meta.url));
const SERVICE_SECRET = "service-secret-for-the-demo-7d1c";

let idp: Awaited<ReturnType<typeof startDemoIdp>>;
let cacheDir = "";
before(async () => {
  idp = await startDemoIdp({ clientSecret: SERVICE_SECRET, accessTokenTtl: 2 });
});
after(() => idp?.close());
beforeEach(() => {
  cacheDir = isolateCache();
  delete process.env.TSLAB_OAUTH_INTERACTIVE;
});

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, TSLAB_OAUTH_CACHE_DIR: cacheDir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c));
  child.stderr.on("data", (c: Buffer) => (stderr += c));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })));
}

const person = (extra: Partial<LoginConfig> = {}): LoginConfig => ({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid", "profile"], ...extra });
const selection = ["--issuer", "", "--client-id", DEMO_CLIENT_ID, "--scope", "openid profile"];
const args = (...more: string[]): string[] => [...more, ...selection.map((a) => (a === "" ? idp.issuer : a))];

test("token prints the notebook's saved token and nothing else, from the cache (no request); --header prints the header; status shows no secret", async () => {
  const headers = await login(person({ openBrowser: new ScriptedUserAgent().open }));
  const requests = idp.requestCount();
  const plain = await cli(args("token"));
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, `${headers.Authorization.slice(7)}\n`, "only the token on stdout");
  const header = await cli(args("token", "--header"));
  assert.equal(header.stdout, `Authorization: ${headers.Authorization}\n`);
  assert.equal(idp.requestCount(), requests, "served from the cache: no request to the provider");
  const listed = await cli(["status"]);
  assert.equal(listed.code, 0);
  assert.match(
    listed.stdout,
    new RegExp(`${idp.issuer.replace(/[.:/]/g, "\\$&")}, client ${DEMO_CLIENT_ID}, scopes "openid profile", as alice, valid for \\d+ s, refresh token held`),
  );
  assert.doesNotMatch(listed.stdout, new RegExp(headers.Authorization.slice(7)));
  assert.doesNotMatch(listed.stdout + listed.stderr, /eyJ/);
});

test("TSLAB_OAUTH_INTERACTIVE=0 with nothing saved: the command fails at once with INTERACTION_REQUIRED, nothing sent or listened", async () => {
  const requests = idp.requestCount();
  const run = await cli(args("token"), { TSLAB_OAUTH_INTERACTIVE: "0", BROWSER: "/bin/false" });
  assert.notEqual(run.code, 0);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /INTERACTION_REQUIRED: No saved sign-in to .* exists on this machine, and interactive sign-in is off/);
  assert.match(run.stderr, /npx tslab-oauth token/);
  assert.ok(run.ms < 1000 + 400, `${run.ms} ms (process start included)`);
  assert.equal(idp.requestCount(), requests, "no request at all: no discovery, no listener, no device code");
  assert.doesNotMatch(run.stderr, /Sign in at|enter the code/);
});

test("interactive: false uses the saved sign-in and refreshes it silently; with nothing saved it throws INTERACTION_REQUIRED in the process", async () => {
  const missing = await login(person({ interactive: false, openBrowser: () => assert.fail("no browser") })).catch((e: unknown) => e);
  assert.ok(missing instanceof LoginError);
  assert.equal(missing.code, "INTERACTION_REQUIRED");
  await login(person({ openBrowser: new ScriptedUserAgent().open }));
  const cached = await login(person({ interactive: false }));
  assert.match(cached.Authorization, /^Bearer /);
  await new Promise((resolve) => setTimeout(resolve, 2100)); // the 2-second token expired
  const before = idp.counts.get("/token") ?? 0;
  process.env.TSLAB_OAUTH_INTERACTIVE = "false";
  const refreshed = await login(person());
  assert.notEqual(refreshed.Authorization, cached.Authorization);
  assert.equal((idp.counts.get("/token") ?? 0) - before, 1, "one refresh request");
});

test("a service account (client credentials): no browser; the second call is served from the cache; session().fetch works; a wrong secret is TOKEN_REQUEST_FAILED and never printed", async () => {
  const service: LoginConfig = {
    issuer: idp.issuer,
    clientId: SERVICE_CLIENT_ID,
    clientSecret: SERVICE_SECRET,
    grant: "client_credentials",
    scopes: ["api"],
    openBrowser: () => assert.fail("no browser"),
  };
  const before = idp.counts.get("/token") ?? 0;
  const headers = await login(service);
  const again = await login(service);
  assert.equal(again.Authorization, headers.Authorization);
  assert.equal((idp.counts.get("/token") ?? 0) - before, 1, "one token request for two calls");
  const me = await fetch(`${idp.issuer}/api/me`, { headers: { Authorization: headers.Authorization } });
  assert.match(await me.text(), /Hello, service client tslab-demo-service/);
  await new Promise((resolve) => setTimeout(resolve, 2100)); // expired: a new token is asked for
  const api = await session(service);
  const res = await api.fetch(`${idp.issuer}/api/me`);
  assert.equal(res.status, 200);
  assert.equal((idp.counts.get("/token") ?? 0) - before, 2);
  const cliToken = await cli(["token", "--issuer", idp.issuer, "--client-id", SERVICE_CLIENT_ID, "--scope", "api", "--grant", "client_credentials"], {
    TSLAB_OAUTH_INTERACTIVE: "0",
    [`TSLAB_OAUTH_UNUSED`]: "",
  });
  // The CLI takes the secret from a profile or the environment, like a notebook; none given here.
  assert.notEqual(cliToken.code, 0);
  assert.match(cliToken.stderr, /INVALID_CONFIG: `grant: "client_credentials"` .* needs its `clientSecret`/);

  const wrong = "not-the-service-secret-5a5a";
  const error = await login({ ...service, clientSecret: wrong, cache: false }).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError);
  assert.equal(error.code, "TOKEN_REQUEST_FAILED");
  assertNoSecret(visibleText(error), [wrong, SERVICE_SECRET]);
});

test("logout from the command line revokes and forgets the saved sign-in, as logout() does", async () => {
  await login(person({ openBrowser: new ScriptedUserAgent().open }));
  const out = await cli(args("logout"));
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /Signed out: removed the saved sign-in; revoked the refresh token and the access token at /);
  const status = await cli(["status"]);
  assert.match(status.stdout, /No saved sign-ins/);
  const result = await logout(person());
  assert.equal(result.removed, false);
});
