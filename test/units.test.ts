// The pure parts: PKCE (RFC 7636 Appendix B), option validation, the listener alone, scrubbing.
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { test } from "node:test";
import { resolveConfig } from "../src/options/resolve.js";
import { parseRedirectUri } from "../src/options/parse.js";
import { asLoginError, LoginError } from "../src/errors.js";
import { startListener } from "../src/flows/loopback/listener.js";
import { choosePkceMethod, createPkce, s256 } from "../src/protocol/pkce.js";
import { SecretSet } from "../src/secrets.js";
import { portIsFree } from "./support/leaks.js";
import { httpRequest } from "./support/servers.js";

test("PKCE S256 matches RFC 7636 Appendix B", async () => {
  assert.equal(await s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
});

test("PKCE verifiers are 43+ characters of the unreserved set and never repeat", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const { verifier, challenge, method } = await createPkce();
    assert.match(verifier, /^[A-Za-z0-9\-._~]{43,128}$/);
    assert.equal(method, "S256");
    assert.equal(challenge, await s256(verifier));
    seen.add(verifier);
  }
  assert.equal(seen.size, 200);
});

test("PKCE method: S256 unless the server lists methods without it; never a silent downgrade", () => {
  assert.equal(choosePkceMethod(undefined), "S256");
  assert.equal(choosePkceMethod([]), "S256");
  assert.equal(choosePkceMethod(["plain", "S256"]), "S256");
  assert.equal(choosePkceMethod(["plain"]), "plain");
  const code = (result: ReturnType<typeof choosePkceMethod>): string | undefined => (typeof result === "string" ? undefined : result.error.code);
  assert.equal(code(choosePkceMethod(["S512"])), "DISCOVERY_FAILED");
  // plain only when asked and the server does not list S256; S256 asked of a plain-only server refused.
  assert.equal(choosePkceMethod(undefined, "plain"), "plain");
  assert.equal(choosePkceMethod(["plain"], "plain"), "plain");
  assert.equal(code(choosePkceMethod(["S256", "plain"], "plain")), "INVALID_CONFIG");
  assert.match((choosePkceMethod(["S256"], "plain") as { error: Error }).error.message, /remove `pkceMethod`/);
  assert.equal(code(choosePkceMethod(["plain"], "S256")), "DISCOVERY_FAILED");
  assert.equal(choosePkceMethod(["S256"], "S256"), "S256");
});

test("bad options are refused with INVALID_CONFIG naming the option", () => {
  const base = { issuer: "https://id.example.com", clientId: "app" };
  const cases: [unknown, RegExp][] = [
    [undefined, /needs an options object/],
    [{ issuer: "https://id.example.com" }, /`clientId` is required/],
    [{ clientId: "app" }, /Give `issuer`/],
    [{ clientId: "app", tokenEndpoint: "https://x/token" }, /both `authorizationEndpoint` and `tokenEndpoint`/],
    [{ ...base, issuer: "not a url" }, /`issuer` is not a valid URL/],
    [{ ...base, issuer: "http://id.example.com" }, /`issuer` must use https/],
    [{ ...base, redirectUri: "http://0.0.0.0:0/callback" }, /`redirectUri` must be a loopback/],
    [{ ...base, redirectUri: "https://127.0.0.1/callback" }, /`redirectUri` must be a loopback/],
    [{ ...base, redirectUri: "http://127.0.0.1:99999/cb" }, /`redirectUri` is not a valid URL/],
    [{ ...base, redirectUri: "http://127.0.0.1/cb#x" }, /#fragment/],
    [{ ...base, timeout: 0 }, /`timeout` must be a number of seconds/],
    [{ ...base, timeout: "300" }, /`timeout`/],
    [{ ...base, requestTimeout: -1 }, /`requestTimeout`/],
    [{ ...base, scopes: ["openid profile"] }, /`scopes`/],
    [{ ...base, scopes: 42 }, /`scopes`/],
    [{ ...base, extraParams: { state: "x" } }, /`extraParams.state` cannot be set/],
    [{ ...base, extraParams: { scope: "x" } }, /use `scopes`/],
    [{ ...base, extraParams: { audience: 1 } }, /`extraParams.audience` must be a string/],
    [{ ...base, clientSecret: "" }, /`clientSecret`/],
    [{ ...base, tokenEndpointAuthMethod: "client_secret_basic" }, /needs a `clientSecret`/],
    [{ ...base, openBrowser: "yes" }, /`openBrowser`/],
    [{ ...base, signal: {} }, /`signal` must be an AbortSignal/],
    [{ ...base, dpop: "true" }, /`dpop` must be true or false/],
    [{ ...base, par: 1 }, /`par` must be true or false/],
    // #27: an option no call knows is refused, naming the one meant.
    [{ ...base, scope: ["openid", "profile"] }, /`scope` is not an option of tslab-oauth: did you mean `scopes`\?/],
    [{ ...base, redirectURI: "http://127.0.0.1/cb" }, /did you mean `redirectUri`\?/],
    [{ ...base, clientID: "x" }, /did you mean `clientId`\?/],
    [{ ...base, timout: 5 }, /did you mean `timeout`\?/],
    [{ ...base, keyring: true }, /`keyring` is not an option of tslab-oauth\. Nothing was sent/],
    [{ ...base, stor: "keychain" }, /did you mean `store`\?/],
    // #29: store is checked at the call.
    [
      { ...base, store: "keyring" },
      /`store` must be "auto" \(the OS secret store when it works, else an owner-only file\), "keychain" \(the secret store only\) or "file"; got "keyring"/,
    ],
  ];
  for (const [config, message] of cases) {
    assert.throws(
      () => resolveConfig(config as never),
      (error: unknown) => error instanceof LoginError && error.code === "INVALID_CONFIG" && message.test(error.message),
      `${inspect(config)} should fail with ${message}`,
    );
  }
});

test("defaults and accepted forms", () => {
  const config = resolveConfig({ issuer: "https://id.example.com", clientId: "app", scopes: "openid  profile openid" });
  assert.deepEqual(config.scopes, ["openid", "profile"]);
  assert.equal(config.timeoutMs, 300_000);
  assert.equal(config.requestTimeoutMs, 30_000);
  assert.deepEqual(config.redirect, { host: "127.0.0.1", port: 0, path: "/callback", search: "" });
  assert.equal(config.openBrowser, true);
  assert.deepEqual(parseRedirectUri("http://localhost/"), { host: "localhost", port: 0, path: "/", search: "" });
  assert.deepEqual(parseRedirectUri("http://[::1]:8400/cb"), { host: "[::1]", port: 8400, path: "/cb", search: "" });
  assert.equal(parseRedirectUri("http://127.0.0.1:80/cb").port, 80);
  // PAR where offered, DPoP off, unless asked.
  assert.equal(config.par, undefined);
  assert.equal(config.dpop, false);
  // http is fine for a loopback issuer (the demo provider, local test servers).
  assert.equal(resolveConfig({ issuer: "http://127.0.0.1:8080", clientId: "a" }).issuer?.host, "127.0.0.1:8080");
});

test("listener: a second callback while the result page is pending is refused; finish frees the port", async () => {
  const listener = await startListener({ redirect: parseRedirectUri(undefined), state: "s".repeat(43), resultWaitMs: 50 });
  const first = await httpRequest(`http://127.0.0.1:${listener.port}`, { path: `/callback?code=abc&state=${"s".repeat(43)}` });
  assert.equal(first.status, 303);
  assert.equal(first.headers.location, "/signed-in");
  assert.equal((await listener.callback).get("code"), "abc");
  const second = await httpRequest(`http://127.0.0.1:${listener.port}`, { path: `/callback?code=abc&state=${"s".repeat(43)}` });
  assert.equal(second.status, 400);
  assert.match(second.body, /already completed/);
  const pending = httpRequest(`http://127.0.0.1:${listener.port}`, { path: "/signed-in" });
  await new Promise((resolve) => setTimeout(resolve, 20));
  await listener.finish({ ok: true, issuer: "https://id.example.com" });
  const page = await pending;
  assert.equal(page.status, 200);
  assert.match(page.body, /You are signed in to <code>https:\/\/id\.example\.com<\/code>/);
  assert.equal(page.headers["cache-control"], "no-store");
  assert.equal(page.headers["referrer-policy"], "no-referrer");
  const csp = String(page.headers["content-security-policy"]);
  assert.match(csp, /default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'/);
  // The inline script is exactly the one the CSP hash allows.
  const script = /<script>([^<]*)<\/script>/.exec(page.body)![1]!;
  const { createHash } = await import("node:crypto");
  assert.ok(csp.includes(`'sha256-${createHash("sha256").update(script).digest("base64")}'`));
  assert.ok(await portIsFree(listener.port));
});

test("listener: failure pages escape what the server sent", async () => {
  const listener = await startListener({ redirect: parseRedirectUri(undefined), state: "t".repeat(43), resultWaitMs: 1000 });
  await httpRequest(`http://127.0.0.1:${listener.port}`, { path: `/callback?error=x&state=${"t".repeat(43)}` });
  const page = httpRequest(`http://127.0.0.1:${listener.port}`, { path: "/signed-in" });
  await new Promise((resolve) => setTimeout(resolve, 20));
  await listener.finish({ ok: false, message: 'denied: <img src=x onerror="alert(1)">' });
  const body = (await page).body;
  assert.ok(!body.includes("<img"), body);
  assert.match(body, /&#60;img src=x onerror=&#34;alert\(1\)&#34;&#62;/);
  assert.doesNotMatch(body, /<script>/, "no close script on a failure page");
});

test("secret scrubbing reaches causes, nested bodies and URLSearchParams", () => {
  const secrets = new SecretSet();
  secrets.add("ACCESS-TOKEN-VALUE-123");
  secrets.add("the-code-value-456");
  const inner = Object.assign(new Error("bad body"), {
    code: "OAUTH_INVALID_RESPONSE",
    cause: {
      body: { access_token: "ACCESS-TOKEN-VALUE-123", nested: ["x ACCESS-TOKEN-VALUE-123 y"] },
      parameters: new URLSearchParams("code=the-code-value-456&state=zzzzzzzzzz"),
    },
  });
  const error = new LoginError("INVALID_TOKEN_RESPONSE", "failed", { cause: inner });
  secrets.scrubError(error);
  const shown = inspect(error, { depth: 10, showHidden: true });
  assert.ok(!shown.includes("ACCESS-TOKEN-VALUE-123"), shown);
  assert.ok(!shown.includes("the-code-value-456"), shown);
  assert.ok(!shown.includes("zzzzzzzzzz"), "a state in URLSearchParams is redacted by name");
  assert.equal((inner as { code: string }).code, "OAUTH_INVALID_RESPONSE", "error codes are not mistaken for authorization codes");
  assert.equal(error.code, "INVALID_TOKEN_RESPONSE");
});

test("asLoginError: a LoginError passes; a bug is INTERNAL_ERROR, said as one (never a provider's failure); after an abort, ABORTED", () => {
  const refused = new LoginError("TOKEN_REQUEST_FAILED", "refused");
  assert.equal(asLoginError(refused), refused);
  const bug = new TypeError("Cannot read properties of undefined (reading 'issuer')");
  const internal = asLoginError(bug);
  assert.equal(internal.code, "INTERNAL_ERROR");
  assert.equal(internal.cause, bug);
  assert.match(internal.message, /TypeError: Cannot read properties of undefined/);
  assert.match(internal.message, /bug in tslab-oauth, not a problem with your provider/);
  const aborted = asLoginError(new LoginError("DISCOVERY_FAILED", "Could not reach ... (This operation was aborted)"), AbortSignal.abort());
  assert.equal(aborted.code, "ABORTED");
  assert.equal((aborted.cause as LoginError).code, "DISCOVERY_FAILED");
});
