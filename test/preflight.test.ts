// The early refusal check (#21/#24): it may end a sign-in only where the server's answer can only
// mean "refused", and it costs a quick sign-in nothing. Real oidc-provider (the demo provider) for
// its own answers; a small gate in front of it plays what other real servers send to a cookie-less
// request of the authorization endpoint (LemonLDAP::NG's JSON 401, Kerberos/SPNEGO's Negotiate,
// a firewall's 403), answering only that request: the browser that comes after it signs in.
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { after, beforeEach, describe, test } from "node:test";
import { DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, LoginError, type LoginConfig } from "../src/index.js";
import { judgePreflight, pageText, PREFLIGHT_DELAY_MS } from "../src/flows/loopback/preflight.js";
import { captureOutput } from "./support/capture.js";
import { isolateCache } from "./support/fixtures.js";
import { portIsFree } from "./support/leaks.js";
import { listenerPort } from "./support/servers.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

type Answer = { status: number; headers?: Record<string, string>; body: string };

const idp = await startDemoIdp();
/** What the next request of the authorization endpoint gets instead of oidc-provider's answer (once). */
let gate: Answer | undefined;
/** What the authorization endpoint was asked, in order: the Accept header of each request, and whether it had cookies. */
let asked: { accept: string | undefined; cookies: boolean }[] = [];
const oidcProvider = idp.server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
idp.server.removeAllListeners("request");
idp.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
  if ((req.url ?? "").split("?")[0] === "/auth") {
    asked.push({ accept: req.headers.accept, cookies: req.headers.cookie !== undefined });
    const answer = gate;
    gate = undefined;
    if (answer) return void res.writeHead(answer.status, { connection: "close", ...answer.headers }).end(answer.body);
  }
  for (const listener of oidcProvider) listener(req, res);
});
after(() => idp.close());
beforeEach(() => {
  isolateCache();
  gate = undefined;
  asked = [];
});

/** A person who takes a while: the browser asks the provider only after the check has. */
function slowPerson(ua = new ScriptedUserAgent()): (url: string) => void {
  return (url) =>
    void (async () => {
      const started = Date.now();
      while (asked.length === 0 && Date.now() - started < PREFLIGHT_DELAY_MS + 5000) await new Promise((resolve) => setTimeout(resolve, 50));
      await ua.open(url);
    })();
}

const config: LoginConfig = { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], flow: "loopback", timeout: 30 };

describe('answers that mean "sign in first" or "not now": the sign-in goes on, nothing said', () => {
  const cases: [string, Answer][] = [
    [
      "401 JSON, as LemonLDAP::NG answers a request it takes for an API call",
      { status: 401, headers: { "content-type": "application/json" }, body: '{"error":9,"result":0}' },
    ],
    [
      "401 Negotiate with an HTML body (Kerberos/SPNEGO, Windows integrated authentication)",
      {
        status: 401,
        headers: { "www-authenticate": "Negotiate", "content-type": "text/html" },
        body: "<html><body><h1>401 Unauthorized</h1><p>invalid_client</p></body></html>",
      },
    ],
    ["407 from a proxy that wants credentials", { status: 407, headers: { "proxy-authenticate": "Basic" }, body: "" }],
    ["429 Too Many Requests", { status: 429, body: "slow down" }],
    ["503 with an error page", { status: 503, body: "<h1>invalid_request</h1>" }],
  ];
  for (const [name, answer] of cases) {
    test(name, async () => {
      gate = answer;
      const { value: headers, stderr } = await captureOutput(() => login({ ...config, openBrowser: slowPerson() }));
      assert.match(headers.Authorization, /^Bearer /);
      assert.equal(asked.length, 2, "the check's request, then the browser's");
      assert.doesNotMatch(stderr, /answered the sign-in request/, "nothing to say about it");
    });
  }
});

describe("answers that look wrong but may not be: one line in the cell, and the sign-in goes on", () => {
  const cases: [string, Answer, RegExp][] = [
    [
      "403 from a firewall's bot check, no OAuth words",
      { status: 403, headers: { "content-type": "text/html" }, body: "<html><title>Just a moment...</title><body>Checking your browser</body></html>" },
      /HTTP 403 \("Just a moment\.\.\. Checking your browser"\)/,
    ],
    ["404", { status: 404, body: "Not Found" }, /HTTP 404 \("Not Found"\)/],
    ["400 without an OAuth error", { status: 400, body: "Bad Request" }, /HTTP 400 \("Bad Request"\)/],
    [
      "200 with an error page naming a refusal",
      { status: 200, headers: { "content-type": "text/html" }, body: "<h1>Error</h1><p>invalid_request: the redirect_uri is not registered</p>" },
      /HTTP 200 \("Error invalid_request: the redirect_uri is not registered"\)/,
    ],
  ];
  for (const [name, answer, said] of cases) {
    test(name, async () => {
      gate = answer;
      const { value: headers, stderr } = await captureOutput(() => login({ ...config, openBrowser: slowPerson() }));
      assert.match(headers.Authorization, /^Bearer /);
      assert.equal(asked.length, 2);
      assert.match(stderr, said);
      assert.match(stderr, /Still waiting: if the browser shows an error instead of a sign-in page, check `issuer` and `clientId`/);
      assert.equal(stderr.match(/answered the sign-in request/g)?.length, 1, "said once");
    });
  }
});

describe("oidc-provider's own refusals end the sign-in within seconds", () => {
  test("an unregistered redirect URI: its 400 invalid_redirect_uri page, AUTHORIZATION_REQUEST_REJECTED naming what to register, the port released", async () => {
    const opened: string[] = [];
    const started = Date.now();
    const error = await login({ ...config, redirectUri: "http://127.0.0.1:0/elsewhere", openBrowser: (url) => void opened.push(url) }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "AUTHORIZATION_REQUEST_REJECTED");
    assert.equal(error.status, 400);
    assert.match(error.message, /HTTP 400: "Error invalid_redirect_uri/);
    assert.match(error.message, /register http:\/\/127\.0\.0\.1\/elsewhere \(any port\) for client "tslab-demo"/);
    assert.ok(elapsed >= PREFLIGHT_DELAY_MS && elapsed < PREFLIGHT_DELAY_MS + 3000, `${elapsed} ms`);
    assert.ok(await portIsFree(listenerPort(opened[0]!)));
  });

  test("an unknown client: its 400 invalid_client page", async () => {
    const error = await login({ ...config, clientId: "no-such-client", openBrowser: () => {} }).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "AUTHORIZATION_REQUEST_REJECTED");
    assert.match(error.message, /HTTP 400: "Error invalid_client/);
  });
});

describe("off the fast path", () => {
  test("a sign-in that comes back within the delay makes one authorization request, not two", async () => {
    const headers = await login({ ...config, openBrowser: new ScriptedUserAgent().open });
    assert.match(headers.Authorization, /^Bearer /);
    await new Promise((resolve) => setTimeout(resolve, PREFLIGHT_DELAY_MS + 500));
    assert.equal(asked.length, 1, "only the browser asked");
  });

  test("the check asks as a browser does: HTML, no JSON, no cookies", async () => {
    await login({ ...config, openBrowser: slowPerson() });
    assert.equal(asked.length, 2);
    assert.equal(asked[0]!.cookies, false);
    assert.match(asked[0]!.accept!, /^text\/html/);
    assert.doesNotMatch(asked[0]!.accept!, /json/);
  });
});

describe("judgePreflight: the table of docs/providers.md", () => {
  const refused: [number, string][] = [
    [400, "Error invalid_redirect_uri redirect_uri did not match any of the client's registered redirect_uris"], // oidc-provider
    [400, "Error invalid_client client is invalid"], // oidc-provider
    [400, "invalid_request: Mismatching redirect URI."], // django-oauth-toolkit (JSON error)
    [403, "Invalid request The redirect_uri http://127.0.0.1:5000/callback is not registered for this client."], // the interop suite's bent server
    [400, "unauthorized_client"],
  ];
  for (const [status, text] of refused) test(`${status} "${text}" is a refusal`, () => assert.equal(judgePreflight(status, text)?.verdict, "refused"));
  const doubts: [number, string][] = [
    [403, "Access denied"],
    [404, "Not Found"],
    [405, ""],
    [410, "Gone"],
    [400, "Bad Request"],
    [200, "Error invalid_client"],
  ];
  for (const [status, text] of doubts) test(`${status} "${text}" is a doubt`, () => assert.equal(judgePreflight(status, text)?.verdict, "doubt"));
  const nothing: [number, string][] = [
    [401, "invalid_client"],
    [407, ""],
    [408, ""],
    [429, "invalid_request"],
    [500, "invalid_request"],
    [302, ""],
    [200, "Sign-in Username Password Sign in"],
  ];
  for (const [status, text] of nothing) test(`${status} "${text}" says nothing`, () => assert.equal(judgePreflight(status, text), undefined));
  test("pageText: markup, scripts and styles removed; a JSON error as its fields", () => {
    assert.equal(pageText("<html><head><style>p{}</style></head><body><script>x()</script><h1>a &amp; b</h1></body></html>"), "a & b");
    assert.equal(pageText('{"error":"invalid_client","error_description":"unknown"}'), "invalid_client: unknown");
  });
});
