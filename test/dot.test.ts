// Against an independent real server: django-oauth-toolkit 1.7 (Debian's package, in the Django
// project of test/dot), the server many Django APIs use. The scripted user agent signs in on
// Django's login form (a real password check) and approves DOT's consent form; the API at
// /api/test/ only answers a valid bearer token with the `read` scope.
//
// Also the call sites people come from (README "Coming from ..."): requests-oauthlib's pasted
// redirect URL, oauthlib's WebApplicationClient with a client secret and no discovery, and a
// state store that refuses a forged state.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, beforeEach, describe, test } from "node:test";
import { request } from "undici";
import { beginLogin, login, logout, LoginError, type LoginConfig } from "../src/index.js";
import { startDot, type DotServer } from "./support/dot.js";
import { captureOutput } from "./support/capture.js";
import { isolateCache } from "./support/fixtures.js";
import { assertNoSecret, openHandles, portIsFree, visibleText } from "./support/leaks.js";
import { listenerPort } from "./support/servers.js";
import { ScriptedUserAgent, type VisitResult } from "./support/user-agent.js";

const USERS = [
  { username: "alice", password: "correct horse battery staple" },
  { username: "bob", password: "hunter2 but longer" },
];
const SECRET = "a-confidential-client-secret-6f1d";
const LOOPBACK = ["http://127.0.0.1/callback"];
const APPLICATIONS = [
  { clientId: "notebook", clientType: "public" as const, redirectUris: LOOPBACK },
  { clientId: "webapp", clientType: "confidential" as const, clientSecret: SECRET, redirectUris: LOOPBACK },
  { clientId: "misregistered", clientType: "public" as const, redirectUris: ["http://127.0.0.1/elsewhere"] },
  { clientId: "my-app_1.0~nb", clientType: "confidential" as const, clientSecret: "GOCSPX-s3cr_et.v~1-long-enough", redirectUris: LOOPBACK },
];
const TOKEN_TTL = 3;

let dot: DotServer;
let plainOnly: DotServer;
let plainAdvertised: DotServer;

before(async () => {
  [dot, plainOnly, plainAdvertised] = await Promise.all([
    startDot({ users: USERS, applications: APPLICATIONS, accessTokenTtl: TOKEN_TTL }),
    startDot({ users: USERS, applications: APPLICATIONS, pkceMethods: ["plain"] }),
    startDot({ users: USERS, applications: APPLICATIONS, pkceMethods: ["plain"], advertisePkce: true }),
  ]);
});
after(async () => {
  await Promise.all([dot?.close(), plainOnly?.close(), plainAdvertised?.close()]);
});
beforeEach(() => {
  isolateCache();
});

function alice(extra: ConstructorParameters<typeof ScriptedUserAgent>[0] = {}): ScriptedUserAgent {
  return new ScriptedUserAgent({ login: "alice", password: USERS[0]!.password, ...extra });
}

function config(server: DotServer, extra: Partial<LoginConfig> = {}): LoginConfig {
  return { issuer: server.issuer, clientId: "notebook", scopes: ["openid", "read"], timeout: 20, ...extra };
}

/** GET /api/test/ with the headers: status and body. */
async function api(server: DotServer, headers: Record<string, string>): Promise<{ status: number; body: { user?: string } }> {
  const res = await request(`${server.origin}/api/test/`, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, body: res.statusCode === 200 ? (JSON.parse(text) as { user?: string }) : {} };
}

const tokenRequests = async (server: DotServer): Promise<number> => (await server.requests())["/o/token/"] ?? 0;

describe("django-oauth-toolkit 1.7", () => {
  test("public client: PKCE S256, discovery found through DOT's trailing-slash redirect, Django login and consent, bearer token accepted", async () => {
    const handles = await openHandles();
    const ua = alice();
    const headers = await login(config(dot, { openBrowser: ua.open }));
    const visit = await ua.last!;
    const authorization = new URL(visit.visited[0]!);
    assert.equal(authorization.searchParams.get("code_challenge_method"), "S256");
    assert.ok(
      visit.visited.some((url) => new URL(url).pathname === "/accounts/login/"),
      "signed in on Django's login form",
    );
    assert.match(visit.finalBody, /signed in|close this tab/i);
    const requests = await dot.requests();
    assert.equal(requests["/o/.well-known/openid-configuration"], 1, "asked once, answered with a 301");
    assert.equal(requests["/o/.well-known/openid-configuration/"], 1, "followed within the issuer's origin");
    assert.deepEqual(await api(dot, headers), { status: 200, body: { user: "alice" } });
    assert.deepEqual(await openHandles(), handles, "no listener or timer left");
  });

  test("confidential client: the classic web application flow with a client secret (state checked, code exchanged with the secret)", async () => {
    const ua = alice();
    const { value: headers, stderr } = await captureOutput(() =>
      login(config(dot, { clientId: "webapp", clientSecret: SECRET, scopes: ["read"], openBrowser: ua.open })),
    );
    assert.equal((await api(dot, headers)).body.user, "alice");
    assertNoSecret(stderr, [SECRET]);

    // The same client with a wrong secret: the server refuses the exchange; the error says what
    // to check and carries neither secret.
    const before = await tokenRequests(dot);
    const wrong = "not-the-secret-7c2e";
    const failed = await login(config(dot, { clientId: "webapp", clientSecret: wrong, scopes: ["read"], cache: false, openBrowser: alice().open })).catch(
      (e: unknown) => e,
    );
    assert.ok(failed instanceof LoginError);
    assert.equal(failed.code, "TOKEN_REQUEST_FAILED");
    assert.equal(failed.error, "invalid_client");
    // DOT lists both methods: the secret is tried in the Basic header, then once in the body (#14).
    assert.match(
      failed.message,
      /refused the client with its secret in the Basic header \(invalid_client\) and in the request body \(invalid_client\)\. Check `clientId` and `clientSecret`.*`tokenEndpointAuthMethod`/,
    );
    assert.equal(await tokenRequests(dot), before + 2);
    assertNoSecret(visibleText(failed), [SECRET, wrong]);
  });

  test("a client id and secret with - _ . ~ (Google-style): Basic credentials encoded minimally sign in at the first token request", async () => {
    const before = await tokenRequests(dot);
    const ua = alice();
    const headers = await login(
      config(dot, { clientId: "my-app_1.0~nb", clientSecret: "GOCSPX-s3cr_et.v~1-long-enough", scopes: ["read"], openBrowser: ua.open }),
    );
    assert.equal((await api(dot, headers)).body.user, "alice");
    assert.equal(await tokenRequests(dot), before + 1);
  });

  test("an access_denied answer (Cancel on DOT's consent form) ends the login with AUTHORIZATION_DENIED and no token request", async () => {
    const before = await tokenRequests(dot);
    const ua = alice({ deny: true });
    const error = await login(config(dot, { openBrowser: ua.open })).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "AUTHORIZATION_DENIED");
    assert.equal(error.error, "access_denied");
    assert.match(error.message, /declined or cancelled/);
    assert.equal(await tokenRequests(dot), before);
    const callback = (await ua.last!).callbackUrl!;
    assert.ok(await portIsFree(Number(callback.port)));
  });

  test("a redirect URI that is not registered: DOT shows its error page, the login ends with the exact URI to register", async () => {
    const ua = alice();
    const started = Date.now();
    const error = await login(config(dot, { clientId: "misregistered", timeout: 3, openBrowser: ua.open })).catch((e: unknown) => e);
    const visit = await ua.last!;
    assert.match(visit.finalBody, /Mismatching redirect URI/, "the provider said so in the browser");
    assert.equal(visit.callbackUrl, undefined, "nothing came back");
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "TIMEOUT");
    assert.match(error.message, /register http:\/\/127\.0\.0\.1\/callback \(any port\) for client "misregistered"/);
    assert.ok(Date.now() - started < 6000);
    assert.ok(await portIsFree(listenerPort(visit.visited[0]!)), "the listener is closed");
  });

  test("refresh: an expired token is renewed with the refresh token (rotated by DOT) without a browser; logout revokes at the endpoint given", async () => {
    const first = await login(config(dot, { openBrowser: alice().open }));
    const signedInAt = Date.now();
    await sleep(Math.max(0, TOKEN_TTL * 1000 + 300 - (Date.now() - signedInAt)));
    assert.equal((await api(dot, first)).status, 403, "the server expired the first token");
    const before = await tokenRequests(dot);
    const renewed = await login(config(dot, { openBrowser: () => assert.fail("a refresh needs no browser") }));
    assert.equal(await tokenRequests(dot), before + 1, "one refresh request");
    assert.notEqual(renewed.Authorization, first.Authorization);
    assert.equal((await api(dot, renewed)).body.user, "alice");

    const out = await logout(config(dot, { revocationEndpoint: `${dot.issuer}/revoke_token/` }));
    assert.deepEqual(out.revoked, ["refresh_token", "access_token"]);
    assert.equal((await api(dot, renewed)).status, 403, "the revoked token is refused");
  });

  test("without discovery: explicit endpoints (OAuth 2.0 only, then OpenID Connect with the issuer named), and DOT's discovery never asked", async () => {
    const seen = (await dot.requests())["/o/.well-known/openid-configuration"] ?? 0;
    const headers = await login({
      authorizationEndpoint: `${dot.issuer}/authorize/`,
      tokenEndpoint: `${dot.issuer}/token/`,
      clientId: "notebook",
      scopes: ["read"],
      openBrowser: alice().open,
    });
    assert.equal((await api(dot, headers)).body.user, "alice");

    // With `openid`, DOT's ID token names its issuer (".../o"), which the endpoints alone do not
    // tell: the error says which `issuer` to set, and with it the sign-in works.
    const endpoints = {
      authorizationEndpoint: `${dot.issuer}/authorize/`,
      tokenEndpoint: `${dot.issuer}/token/`,
      clientId: "notebook",
      scopes: ["openid", "read"],
    };
    const error = await login({ ...endpoints, openBrowser: alice().open }).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "ISSUER_MISMATCH");
    assert.ok(error.message.includes(`set \`issuer\` to "${dot.issuer}"`), error.message);
    const withIssuer = await login({ ...endpoints, issuer: dot.issuer, openBrowser: alice().open });
    assert.equal((await api(dot, withIssuer)).body.user, "alice");
    assert.equal((await dot.requests())["/o/.well-known/openid-configuration"] ?? 0, seen, "discovery never asked");
  });
});

describe("PKCE on a server that accepts only plain (a deliberate choice, never a silent downgrade)", () => {
  test("S256 is sent; the server's refusal ends the login with the way out, and no token request", async () => {
    const ua = alice();
    const error = await login(config(plainOnly, { openBrowser: ua.open })).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "AUTHORIZATION_DENIED");
    assert.match(error.message, /Transform algorithm not supported/);
    assert.match(error.message, /pkceMethod: "plain"/);
    assert.equal(new URL((await ua.last!).visited[0]!).searchParams.get("code_challenge_method"), "S256");
    assert.equal(await tokenRequests(plainOnly), 0);
  });

  test('pkceMethod: "plain" signs in, and the cell (here stderr) says what was given up', async () => {
    const ua = alice();
    const { value: headers, stderr } = await captureOutput(() => login(config(plainOnly, { pkceMethod: "plain", openBrowser: ua.open })));
    assert.equal(new URL((await ua.last!).visited[0]!).searchParams.get("code_challenge_method"), "plain");
    assert.equal((await api(plainOnly, headers)).body.user, "alice");
    assert.match(stderr, /PKCE method plain, as asked/);
  });

  test("a server whose metadata lists only plain gets plain without an option, with a warning naming the server", async () => {
    const ua = alice();
    const { value: headers, stderr } = await captureOutput(() => login(config(plainAdvertised, { openBrowser: ua.open })));
    assert.equal(new URL((await ua.last!).visited[0]!).searchParams.get("code_challenge_method"), "plain");
    assert.equal((await api(plainAdvertised, headers)).body.user, "alice");
    assert.match(stderr, new RegExp(`${plainAdvertised.issuer.replace(/[.]/g, "\\.")} supports only the PKCE method plain`));
  });
});

describe("coming from Python (README): the same call sites against DOT", () => {
  test("requests-oauthlib OAuth2Session + a pasted redirect URL → beginLogin() and complete(); a forged state is refused without spending the sign-in", async () => {
    let address: URL | undefined;
    const ua = alice({
      onCallback: (url) => {
        address = url;
        return null; // the browser cannot reach the kernel: the user copies the address
      },
    });
    const pending = await beginLogin(config(dot, { openBrowser: ua.open }));
    await ua.last;
    assert.ok(address);
    const before = await tokenRequests(dot);
    const forged = new URL(address);
    forged.searchParams.set("state", "a-state-an-attacker-chose");
    const refused = await pending.complete(forged.href).catch((e: unknown) => e);
    assert.ok(refused instanceof LoginError);
    assert.equal(refused.code, "INVALID_AUTHORIZATION_RESPONSE");
    assert.equal(await tokenRequests(dot), before, "the forged address spent nothing");
    const headers = await pending.complete(address.href);
    assert.equal(await tokenRequests(dot), before + 1);
    assert.equal((await api(dot, headers)).body.user, "alice");
  });

  test("oauthlib WebApplicationClient with a client secret and hand-written endpoints → login() with authorizationEndpoint, tokenEndpoint, clientSecret (client_secret_post)", async () => {
    const ua = new ScriptedUserAgent({ login: "bob", password: USERS[1]!.password });
    const headers = await login({
      authorizationEndpoint: `${dot.issuer}/authorize/`,
      tokenEndpoint: `${dot.issuer}/token/`,
      clientId: "webapp",
      clientSecret: SECRET,
      tokenEndpointAuthMethod: "client_secret_post",
      scopes: ["read"],
      openBrowser: ua.open,
    });
    assert.equal((await api(dot, headers)).body.user, "bob");
  });

  test("a per-user state store that raises on a forged state → the listener answers 400 to a forged callback and keeps waiting for the genuine one", async () => {
    let genuine: URL | undefined;
    const ua = alice({
      onCallback: (url) => {
        genuine = url;
        const forged = new URL(url);
        forged.searchParams.set("state", "forged");
        return forged;
      },
    });
    const before = await tokenRequests(dot);
    let visited: (value: Promise<VisitResult>) => void;
    const visiting = new Promise<VisitResult>((resolve) => (visited = resolve));
    const pendingLogin = login(
      config(dot, {
        openBrowser: (url) => {
          ua.open(url);
          visited(ua.last!);
        },
      }),
    );
    const visit = await visiting;
    assert.equal(visit.finalStatus, 400, "the forged callback is refused");
    assert.equal(await tokenRequests(dot), before, "and spends nothing");
    const res = await request(genuine!);
    await res.body.dump();
    assert.equal(res.statusCode, 303, "accepted: sent on to the result page");
    const headers = await pendingLogin;
    assert.equal((await api(dot, headers)).body.user, "alice");
    assert.equal(await tokenRequests(dot), before + 1);
  });
});
