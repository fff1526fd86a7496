// Hostile and faulty inputs around one login: each case asserts what the user sees (the outcome
// and its error code), that the port is free afterwards, and that no secret is in the error.
import assert from "node:assert/strict";
import { after, beforeEach, test } from "node:test";
import { DEMO_CLIENT_ID } from "../demo/idp.js";
import { login, LoginError, type LoginConfig, type LoginErrorCode } from "../src/index.js";
import { closeDemoIdp, demoIdp, isolateCache } from "./support/fixtures.js";
import { assertNoSecret, openHandles, portIsFree, visibleText } from "./support/leaks.js";
import { httpRequest, listenerPort, startServer, type RequestOptions } from "./support/servers.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

after(closeDemoIdp);
beforeEach(() => {
  isolateCache();
});

/** Runs a login expected to fail; checks the code, the freed port, handles and secrets. */
async function expectFailure(config: LoginConfig, code: LoginErrorCode, secrets: () => (string | undefined)[] = () => []): Promise<LoginError> {
  const before = await openHandles();
  let port: number | undefined;
  const open = config.openBrowser;
  const error = await login({
    ...config,
    openBrowser: async (url) => {
      port = listenerPort(url);
      if (typeof open === "function") await open(url);
    },
  }).then(
    () => assert.fail(`login() succeeded, expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof LoginError, `not a LoginError: ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.equal(error.name, "LoginError");
  if (port !== undefined) assert.ok(await portIsFree(port), "the listener's port is free after the error");
  assert.deepEqual(await openHandles(), before, "no server or timer left behind");
  assertNoSecret(visibleText(error), secrets());
  return error;
}

test("stray requests before the callback are answered and do not disturb the login", async () => {
  const idp = await demoIdp();
  const ua = new ScriptedUserAgent({ strayRequests: true });
  const seen: Record<string, number> = {};
  const headers = await login({
    issuer: idp.issuer,
    clientId: DEMO_CLIENT_ID,
    scopes: ["openid"],
    openBrowser: async (url) => {
      const port = listenerPort(url);
      const state = new URL(url).searchParams.get("state")!;
      const hit = async (name: string, options: RequestOptions): Promise<void> => {
        seen[name] = (await httpRequest(`http://127.0.0.1:${port}`, options)).status;
      };
      await hit("favicon", { path: "/favicon.ico" });
      await hit("root", { path: "/" });
      await hit("other path", { path: "/callback/../admin" });
      await hit("trailing slash", { path: `/callback/?code=x&state=${state}` });
      await hit("POST", { method: "POST", path: `/callback?code=x&state=${state}` });
      await hit("PUT", { method: "PUT", path: "/callback" });
      await hit("forged state", { path: "/callback?code=forged&state=forged" });
      await hit("no state", { path: "/callback?code=forged" });
      await hit("duplicated state", { path: `/callback?code=x&state=${state}&state=${state}` });
      await hit("DNS rebinding Host", { path: `/callback?code=x&state=${state}`, headers: { host: `evil.example:${port}` } });
      await hit("wrong port Host", { path: `/callback?code=x&state=${state}`, headers: { host: "127.0.0.1:1" } });
      await hit("result page before callback", { path: "/signed-in" });
      ua.open(url);
    },
  });
  assert.deepEqual(seen, {
    favicon: 404,
    root: 404,
    "other path": 404,
    "trailing slash": 404,
    POST: 405,
    PUT: 405,
    "forged state": 400,
    "no state": 400,
    "duplicated state": 400,
    "DNS rebinding Host": 421,
    "wrong port Host": 421,
    "result page before callback": 404,
  });
  assert.equal((await fetch(`${idp.issuer}/api/me`, { headers: headers })).status, 200);
});

test("a callback replayed after success finds nothing listening", async () => {
  const idp = await demoIdp();
  let callback: URL | undefined;
  const ua = new ScriptedUserAgent({ onCallback: (url) => (callback = url) });
  await login({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], openBrowser: ua.open });
  await assert.rejects(fetch(callback!), /fetch failed/);
});

test("an error redirect (access_denied) ends the login with AUTHORIZATION_DENIED", async () => {
  const idp = await demoIdp();
  const ua = new ScriptedUserAgent({ deny: true });
  const error = await expectFailure({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], openBrowser: ua.open }, "AUTHORIZATION_DENIED");
  assert.equal(error.error, "access_denied");
  assert.equal(error.errorDescription, "End-User aborted interaction");
  assert.match((await ua.last!).finalBody, /Sign-in failed/);
});

test("a callback without a code: INVALID_AUTHORIZATION_RESPONSE", async () => {
  const idp = await demoIdp();
  let code: string | undefined;
  const ua = new ScriptedUserAgent({
    onCallback: (url) => {
      code = url.searchParams.get("code") ?? undefined;
      url.searchParams.delete("code");
      return url;
    },
  });
  await expectFailure({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], openBrowser: ua.open }, "INVALID_AUTHORIZATION_RESPONSE", () => [
    code,
  ]);
});

test("a wrong or missing iss (RFC 9207): ISSUER_MISMATCH, the code is never exchanged", async () => {
  const idp = await demoIdp();
  for (const iss of ["https://evil.example", null]) {
    let code: string | undefined;
    const ua = new ScriptedUserAgent({
      onCallback: (url) => {
        code = url.searchParams.get("code") ?? undefined;
        if (iss === null) url.searchParams.delete("iss");
        else url.searchParams.set("iss", iss);
        return url;
      },
    });
    const tokenRequests = idp.counts.get("/token") ?? 0;
    const error = await expectFailure({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], openBrowser: ua.open }, "ISSUER_MISMATCH", () => [
      code,
    ]);
    assert.match(error.message, iss ? /evil\.example/ : /without the `iss`/);
    assert.equal(idp.counts.get("/token") ?? 0, tokenRequests, "no token request was made");
  }
});

test("a fixed port already in use: PORT_IN_USE, and the other program keeps its port", async () => {
  const idp = await demoIdp();
  const other = await startServer((_req, res) => res.end("other program"));
  const port = Number(new URL(other.url).port);
  try {
    const error = await expectFailure(
      { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, redirectUri: `http://127.0.0.1:${port}/callback`, openBrowser: false },
      "PORT_IN_USE",
    );
    assert.match(error.message, new RegExp(`Port ${port}`));
    assert.equal(await (await fetch(other.url)).text(), "other program");
  } finally {
    await other.close();
  }
});

test("nobody signs in: TIMEOUT names the redirect URI to register", async () => {
  const idp = await demoIdp();
  const error = await expectFailure({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, timeout: 0.3, openBrowser: () => {} }, "TIMEOUT");
  assert.match(error.message, /register http:\/\/127\.0\.0\.1\/callback \(any port\)/);
});

test("abort: a signal aborted while waiting, and one aborted before the call", async () => {
  const idp = await demoIdp();
  const controller = new AbortController();
  await expectFailure(
    { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, signal: controller.signal, openBrowser: () => void setTimeout(() => controller.abort(), 50) },
    "ABORTED",
  );
  const discovery = idp.counts.get("/.well-known/openid-configuration") ?? 0;
  await expectFailure({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, signal: AbortSignal.abort() }, "ABORTED");
  assert.equal(idp.counts.get("/.well-known/openid-configuration") ?? 0, discovery, "nothing was requested");
});

test("token endpoint faults: 500, non-JSON, invalid_grant, a redirect, and a hang", async () => {
  const idp = await demoIdp();
  const cases: { name: string; code: LoginErrorCode; match: RegExp; handler: Parameters<typeof startServer>[0]; oauthError?: string }[] = [
    {
      name: "500",
      code: "TOKEN_REQUEST_FAILED",
      match: /HTTP 500/,
      handler: (_q, s) => s.writeHead(500, { "content-type": "text/html" }).end("<h1>oops</h1>"),
    },
    {
      name: "non-JSON 200",
      code: "INVALID_TOKEN_RESPONSE",
      match: /did not validate/,
      handler: (_q, s) => s.writeHead(200, { "content-type": "text/html" }).end("<html>"),
    },
    {
      name: "truncated JSON",
      code: "INVALID_TOKEN_RESPONSE",
      match: /did not validate/,
      handler: (_q, s) => s.writeHead(200, { "content-type": "application/json" }).end('{"access_token":"abc'),
    },
    {
      name: "invalid_grant",
      code: "TOKEN_REQUEST_FAILED",
      match: /invalid_grant: code expired.*run login\(\) again/,
      oauthError: "invalid_grant",
      handler: (_q, s) => s.writeHead(400, { "content-type": "application/json" }).end('{"error":"invalid_grant","error_description":"code expired"}'),
    },
    { name: "redirect", code: "TOKEN_REQUEST_FAILED", match: /HTTP 302/, handler: (_q, s) => s.writeHead(302, { location: `${idp.issuer}/token` }).end() },
    { name: "hang", code: "TOKEN_REQUEST_FAILED", match: /did not answer within 0\.5 s/, handler: () => {} },
  ];
  for (const c of cases) {
    const tokenServer = await startServer(c.handler);
    try {
      let code: string | undefined;
      const ua = new ScriptedUserAgent({ onCallback: (url) => ((code = url.searchParams.get("code") ?? undefined), url) });
      const error = await expectFailure(
        {
          issuer: idp.issuer,
          authorizationEndpoint: `${idp.issuer}/auth`,
          tokenEndpoint: `${tokenServer.url}/token`,
          clientId: DEMO_CLIENT_ID,
          scopes: ["openid"],
          requestTimeout: 0.5,
          openBrowser: ua.open,
        },
        c.code,
        () => [code],
      );
      assert.match(error.message, c.match, c.name);
      if (c.oauthError) assert.equal(error.error, c.oauthError);
      // The browser is told the truth: no "signed in" after a failed exchange.
      const visit = await ua.last!;
      assert.match(visit.finalBody, /Sign-in failed/, c.name);
    } finally {
      await tokenServer.close();
    }
  }
});

test("discovery faults: unreachable, 404, hanging, and a document naming another issuer", async () => {
  const idp = await demoIdp();
  const gone = await startServer(() => {});
  const goneUrl = gone.url;
  await gone.close();
  let error = await expectFailure({ issuer: goneUrl, clientId: DEMO_CLIENT_ID }, "DISCOVERY_FAILED");
  assert.match(error.message, /ECONNREFUSED/);

  const notFound = await startServer((_q, s) => s.writeHead(404).end());
  error = await expectFailure({ issuer: notFound.url, clientId: DEMO_CLIENT_ID }, "DISCOVERY_FAILED");
  assert.match(error.message, /openid-configuration answered HTTP 404.*oauth-authorization-server answered HTTP 404/);
  await notFound.close();

  const hanging = await startServer(() => {});
  error = await expectFailure({ issuer: hanging.url, clientId: DEMO_CLIENT_ID, requestTimeout: 0.3 }, "DISCOVERY_FAILED");
  assert.match(error.message, /did not answer within 0\.3 s/);
  await hanging.close();

  const doc = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).text();
  const mixUp = await startServer((_q, s) => s.writeHead(200, { "content-type": "application/json" }).end(doc));
  error = await expectFailure({ issuer: mixUp.url, clientId: DEMO_CLIENT_ID }, "ISSUER_MISMATCH");
  assert.ok(error.message.includes(JSON.stringify(idp.issuer)), error.message);
  await mixUp.close();

  const parsed = JSON.parse(doc) as Record<string, unknown>;
  const noToken = await startServer((_q, s) =>
    s.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...parsed, issuer: noTokenIssuer, token_endpoint: undefined })),
  );
  const noTokenIssuer = noToken.url;
  error = await expectFailure({ issuer: noTokenIssuer, clientId: DEMO_CLIENT_ID }, "DISCOVERY_FAILED");
  assert.match(error.message, /has no `token_endpoint`/);
  await noToken.close();
});
