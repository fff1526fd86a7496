// Against a third real server: LemonLDAP::NG 2.16, a full SSO portal (Debian's packages behind
// nginx, test/support/lemonldap.ts), signed in to through its own login form (Demo users). What it
// does differently from oidc-provider and django-oauth-toolkit, each a test: the authorization
// endpoint answers a request that accepts JSON with a JSON 401, and shows its login form for any
// request before checking the client or the redirect URI; redirect URIs are compared with their
// port; confidential clients' Basic credentials; a refresh token whose session is gone; no
// revocation endpoint; `localhost` redirects.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, beforeEach, test } from "node:test";
import { judgePreflight, pageText, PREFLIGHT_DELAY_MS } from "../src/flows/loopback/preflight.js";
import { login, logout, LoginError, type LoginConfig } from "../src/index.js";
import { captureOutput } from "./support/capture.js";
import { expireSavedSignIns, isolateCache } from "./support/fixtures.js";
import { startLemonldap } from "./support/lemonldap.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const SECRET = "s3cr3t-with+odd/chars=and:colon";
const FIXED = "http://127.0.0.1:53682/callback";
const LOCALHOST = "http://localhost:53683/callback";
const llng = await startLemonldap([
  // Registered without a port: LemonLDAP::NG then refuses every loopback port (it compares them).
  { clientId: "notebook", redirectUris: ["http://127.0.0.1/callback"] },
  { clientId: "fixed", redirectUris: [FIXED] },
  { clientId: "webapp", clientSecret: SECRET, redirectUris: [FIXED] },
  { clientId: "local", redirectUris: [LOCALHOST] },
]);
after(() => llng.close());
let cacheDir = "";
beforeEach(() => {
  cacheDir = isolateCache();
});

const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const config = (extra: Partial<LoginConfig> = {}): LoginConfig => ({
  issuer: llng.issuer,
  clientId: "fixed",
  redirectUri: FIXED,
  scopes: ["openid", "profile", "offline_access"],
  flow: "loopback",
  timeout: 20,
  openBrowser: new ScriptedUserAgent().open,
  ...extra,
});
const authorizeUrl = (params: Record<string, string>): string =>
  `${llng.issuer}/oauth2/authorize?${new URLSearchParams({ response_type: "code", scope: "openid", state: "x", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256", ...params })}`;
const userinfo = async (headers: { Authorization: string }): Promise<{ status: number; sub?: string }> => {
  const res = await fetch(`${llng.issuer}/oauth2/userinfo`, { headers });
  return { status: res.status, ...(res.status === 200 ? ((await res.json()) as { sub: string }) : {}) };
};

test("its authorization endpoint: a JSON 401 to a request accepting JSON, its login form to a browser for any client and redirect URI, so the early check never ends a sign-in", async () => {
  const json = await fetch(authorizeUrl({ client_id: "fixed", redirect_uri: FIXED }), { headers: { accept: "application/json" }, redirect: "manual" });
  assert.equal(json.status, 401);
  assert.deepEqual(JSON.parse(await json.text()), { error: 9, result: 0 });
  for (const params of [
    { client_id: "fixed", redirect_uri: FIXED },
    { client_id: "fixed", redirect_uri: "http://127.0.0.1:40000/callback" },
    { client_id: "unknown-client", redirect_uri: FIXED },
  ]) {
    const page = await fetch(authorizeUrl(params), { headers: { accept: BROWSER_ACCEPT }, redirect: "manual" });
    const text = await page.text();
    assert.equal(page.status, 200, JSON.stringify(params));
    assert.match(text, /name="user"/, "the login form, whatever the client or redirect");
    assert.equal(judgePreflight(200, pageText(text)), undefined, "the check says nothing of a login page");
  }
});

test("a person who takes longer than the early check: the check sees the login form, nothing is said, the sign-in completes", async () => {
  const ua = new ScriptedUserAgent();
  const before = llng.requests()["/oauth2/authorize"] ?? 0;
  const slow = (url: string): void => void setTimeout(() => void ua.open(url), PREFLIGHT_DELAY_MS + 1500);
  const { value: headers, stderr } = await captureOutput(() => login(config({ openBrowser: slow })));
  assert.equal((await userinfo(headers)).sub, "dwho");
  assert.ok((llng.requests()["/oauth2/authorize"] ?? 0) - before >= 2, "the check asked too");
  assert.doesNotMatch(stderr, /answered the sign-in request|refused/);
});

test("a confidential client whose secret has + / = : : LemonLDAP::NG compares Basic credentials as sent (not form-decoded, RFC 6749 §2.3.1), refuses them, and the one retry with post signs in; the method is kept", async () => {
  const before = llng.requests()["/oauth2/token"] ?? 0;
  const headers = await login(config({ clientId: "webapp", clientSecret: SECRET }));
  assert.equal((await userinfo(headers)).status, 200);
  assert.equal((llng.requests()["/oauth2/token"] ?? 0) - before, 2, "Basic refused, then client_secret_post");
  const saved = Object.values(JSON.parse(readFileSync(join(cacheDir, "tokens.json"), "utf8")) as Record<string, { clientAuthMethod?: string }>);
  assert.equal(saved[0]!.clientAuthMethod, "client_secret_post", "refreshes go with post at once");
});

test("a refresh token whose SSO session is gone: the server's refusal is said in the cell, and the browser signs in again", async () => {
  await login(config());
  assert.ok(expireSavedSignIns(cacheDir)[0]!.refreshToken, "offline_access gave a refresh token");
  llng.dropSessions();
  const ua = new ScriptedUserAgent();
  const { value: headers, stderr } = await captureOutput(() => login(config({ openBrowser: ua.open })));
  assert.equal((await userinfo(headers)).status, 200);
  assert.ok(ua.last, "the browser signed in again");
  // LemonLDAP::NG answers invalid_request (not invalid_grant, RFC 6749 §5.2) for a refresh token it no longer knows.
  assert.match(stderr, /was refused by the server \(HTTP 400, invalid_request\)/);
});

test("redirect URIs are compared with their port: registered without one, the sign-in never comes back, and the message names the fixed port to register", async () => {
  const ua = new ScriptedUserAgent();
  const error = await login(config({ clientId: "notebook", redirectUri: undefined, timeout: 6, openBrowser: ua.open })).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError);
  assert.equal(error.code, "TIMEOUT");
  assert.match(error.message, /register a fixed one such as http:\/\/127\.0\.0\.1:53682\/callback and pass it as `redirectUri`/);
  const page = await ua.last!;
  assert.match(page.finalUrl, /\/oauth2\/authorize/);
  assert.match(page.finalBody, /message-negative/, "LemonLDAP::NG showed its error in the browser only");
  // With the fixed port registered and passed, it signs in.
  assert.equal((await userinfo(await login(config()))).sub, "dwho");
});

test("no revocation endpoint: logout() forgets the sign-in and says the tokens stay valid until they expire", async () => {
  await login(config());
  const { value: result, stderr } = await captureOutput(() => logout(config()));
  assert.deepEqual(result, { removed: true, revoked: [], revocationEndpoint: undefined, alsoAffected: [] });
  assert.equal(stderr, "", "the terminal is told nothing it must act on");
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(cacheDir, "tokens.json"), "utf8")) as object), []);
});

test("a `localhost` redirect URI signs in", async () => {
  const ua = new ScriptedUserAgent();
  const headers = await login(config({ clientId: "local", redirectUri: LOCALHOST, openBrowser: ua.open }));
  assert.equal((await userinfo(headers)).status, 200);
  assert.equal((await ua.last!).callbackUrl?.hostname, "localhost");
});
