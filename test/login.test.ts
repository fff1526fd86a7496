// login() against a real oidc-provider, signed in by a scripted user agent.
import assert from "node:assert/strict";
import { after, beforeEach, test } from "node:test";
import { request } from "undici";
import { CONFIDENTIAL_CLIENT_ID, DEMO_CLIENT_ID, POST_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, LoginError } from "../src/index.js";
import { closeDemoIdp, demoIdp, isolateCache } from "./support/fixtures.js";
import { assertNoSecret, openHandles, portIsFree } from "./support/leaks.js";
import { startServer } from "./support/servers.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

after(closeDemoIdp);
beforeEach(() => {
  isolateCache();
});

test("README example: login() returns headers that the provider's userinfo and API accept", async () => {
  const idp = await demoIdp();
  const before = await openHandles();
  const ua = new ScriptedUserAgent({ login: "alice" });
  const headers = await login({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid", "profile"], openBrowser: ua.open });

  assert.deepEqual(Object.keys(headers), ["Authorization"]);
  assert.match(headers.Authorization, /^Bearer \S{20,}$/);
  const userinfo = await fetch(`${idp.issuer}/me`, { headers: headers });
  assert.equal(userinfo.status, 200);
  assert.equal(((await userinfo.json()) as { sub: string }).sub, "alice");
  const api = await fetch(`${idp.issuer}/api/me`, { headers });
  assert.equal(api.status, 200);

  // The browser saw the clean result page, with the code gone from its address bar.
  const visit = await ua.last!;
  assert.equal(visit.finalStatus, 200);
  assert.match(visit.finalBody, /You are signed in/);
  assert.equal(new URL(visit.finalUrl).search, "");
  const port = Number(visit.callbackUrl!.port);
  assert.ok(await portIsFree(port), "the listener's port is free after login()");
  assert.deepEqual(await openHandles(), before, process.getActiveResourcesInfo().join());
});

test("the headers work with undici.request, object spread, and print redacted", async () => {
  const idp = await demoIdp();
  const ua = new ScriptedUserAgent();
  const headers = await login({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: "openid profile", openBrowser: ua.open });
  const token = headers.Authorization.slice("Bearer ".length);
  const res = await request(`${idp.issuer}/api/me`, { headers });
  assert.equal(res.statusCode, 200);
  await res.body.dump();
  const spread = await fetch(`${idp.issuer}/api/me`, { headers: { ...headers, Accept: "application/json" } });
  assert.equal(spread.status, 200);
  const { inspect } = await import("node:util");
  for (const shown of [inspect(headers), JSON.stringify(headers), String(headers), `${headers}`, inspect({ headers })]) {
    assert.ok(!shown.includes(token), `printed form leaks the token: ${shown}`);
    assert.match(shown, /redacted/);
  }
});

test("a confidential client sends its secret as the server asks (basic, then post)", async () => {
  const idp = await demoIdp();
  for (const clientId of [CONFIDENTIAL_CLIENT_ID, POST_CLIENT_ID]) {
    const ua = new ScriptedUserAgent();
    const headers = await login({
      issuer: idp.issuer,
      clientId,
      clientSecret: idp.clientSecret,
      scopes: ["openid"],
      openBrowser: ua.open,
      tokenEndpointAuthMethod: clientId === POST_CLIENT_ID ? "client_secret_post" : undefined,
    });
    assert.equal((await fetch(`${idp.issuer}/api/me`, { headers: headers })).status, 200);
  }
});

test("a wrong client secret fails with TOKEN_REQUEST_FAILED, invalid_client, and no secret in the error", async () => {
  const idp = await demoIdp();
  const ua = new ScriptedUserAgent();
  const secret = "this-is-not-the-right-secret-123";
  const error = await login({ issuer: idp.issuer, clientId: CONFIDENTIAL_CLIENT_ID, clientSecret: secret, scopes: ["openid"], openBrowser: ua.open }).catch(
    (e: unknown) => e,
  );
  assert.ok(error instanceof LoginError);
  assert.equal(error.code, "TOKEN_REQUEST_FAILED");
  assert.equal(error.error, "invalid_client");
  assert.match(error.message, /clientSecret/);
  const { visibleText } = await import("./support/leaks.js");
  assertNoSecret(visibleText(error), [secret]);
  // The browser was told, after the exchange failed, not "signed in".
  const visit = await ua.last!;
  assert.doesNotMatch(visit.finalBody, /You are signed in/);
  assert.match(visit.finalBody, /Sign-in failed/);
});

test("redirect to localhost and to a fixed port", async () => {
  const idp = await demoIdp();
  const ua = new ScriptedUserAgent();
  const headers = await login({
    issuer: idp.issuer,
    clientId: DEMO_CLIENT_ID,
    scopes: ["openid"],
    redirectUri: "http://localhost:0/callback",
    openBrowser: ua.open,
  });
  assert.equal((await fetch(`${idp.issuer}/api/me`, { headers: headers })).status, 200);
  assert.equal((await ua.last!).callbackUrl!.hostname, "localhost");

  const probe = await startServer(() => {});
  const port = Number(new URL(probe.url).port);
  await probe.close();
  const ua2 = new ScriptedUserAgent();
  // The same client and scopes: without forceLogin the first sign-in would come from the cache.
  const fixed = await login({
    issuer: idp.issuer,
    clientId: DEMO_CLIENT_ID,
    scopes: ["openid"],
    redirectUri: `http://127.0.0.1:${port}/callback`,
    openBrowser: ua2.open,
    forceLogin: true,
  });
  assert.equal((await fetch(`${idp.issuer}/api/me`, { headers: fixed })).status, 200);
  assert.equal(Number((await ua2.last!).callbackUrl!.port), port);
  assert.ok(await portIsFree(port));
});

test("explicit endpoints work without discovery (GitHub-style)", async () => {
  const idp = await demoIdp();
  const discoveryBefore = idp.counts.get("/.well-known/openid-configuration") ?? 0;
  const ua = new ScriptedUserAgent();
  const headers = await login({
    authorizationEndpoint: `${idp.issuer}/auth`,
    tokenEndpoint: `${idp.issuer}/token`,
    clientId: DEMO_CLIENT_ID,
    scopes: ["openid"],
    openBrowser: ua.open,
  });
  assert.equal((await fetch(`${idp.issuer}/api/me`, { headers: headers })).status, 200);
  assert.equal(idp.counts.get("/.well-known/openid-configuration") ?? 0, discoveryBefore, "no discovery request");
});

test("discovery falls back to RFC 8414 when there is no openid-configuration", async () => {
  const idp = await startDemoIdp({ discovery: "oauth2" });
  try {
    const ua = new ScriptedUserAgent();
    const headers = await login({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], openBrowser: ua.open });
    assert.equal((await fetch(`${idp.issuer}/api/me`, { headers: headers })).status, 200);
    assert.equal(idp.counts.get("/.well-known/openid-configuration"), 1, "tried OpenID Connect Discovery first");
    assert.equal(idp.counts.get("/.well-known/oauth-authorization-server"), 1);
  } finally {
    await idp.close();
  }
});

test("only the headers come back: the ID token's nonce is checked", async () => {
  const idp = await demoIdp();
  const ua = new ScriptedUserAgent();
  // Tamper the nonce on the way to the server: the ID token then carries another nonce.
  const wrapped = (url: string): void => {
    const u = new URL(url);
    u.searchParams.set("nonce", "a-nonce-that-login-did-not-send");
    ua.open(u.href);
  };
  const error = await login({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], openBrowser: wrapped }).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError);
  assert.equal(error.code, "INVALID_TOKEN_RESPONSE");
  assert.match(error.message, /nonce/);
});

test("a kernel that signs in again reuses the discovered metadata (no discovery request); a failed login discovers afresh next time", async () => {
  const idp = await demoIdp();
  const discovery = (): number => idp.counts.get("/.well-known/openid-configuration") ?? 0;
  const config = { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], cache: false };
  const start = discovery();
  await login({ ...config, openBrowser: new ScriptedUserAgent().open });
  await login({ ...config, openBrowser: new ScriptedUserAgent({ login: "bob" }).open });
  assert.equal(discovery() - start, 1, "one discovery for two sign-ins");

  const denied = await login({ ...config, openBrowser: new ScriptedUserAgent({ deny: true }).open }).catch((e: unknown) => e);
  assert.ok(denied instanceof LoginError);
  await login({ ...config, openBrowser: new ScriptedUserAgent().open });
  assert.equal(discovery() - start, 2, "the failure dropped the reused document");
});
