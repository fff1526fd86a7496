// Hostile and broken token and discovery endpoints (issue #8): 4xx/5xx with and without OAuth
// error bodies, HTML, truncated and wrong JSON, huge and endless bodies (bounded reads), redirects
// (never followed with the code), slow and hanging servers (timeouts), TLS with an unknown
// certificate authority (refused unless `ca` names it), and discovery documents naming another
// issuer or unsafe endpoints; PAR endpoints that refuse, fail, lie or hang, and a "DPoP" server that
// issues Bearer tokens. Every case: the error code the user gets, a short clean message, the
// browser told "Sign-in failed", no secret visible, nothing left behind (test/support/hostile.ts).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe } from "node:test";
import { gzipSync } from "node:zlib";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { login, session, type LoginConfig, type LoginErrorCode } from "../src/index.js";
import { withFakeAs, type FakeAs, type FakeAsOptions } from "./support/fake-as.js";
import { isolateCache } from "./support/fixtures.js";
import { makeCertificates, type TestCertificates } from "./support/certificates.js";
import { Tally, expectLoginError, hostileTest, isTidyMessage, type CaseContext } from "./support/hostile.js";
import { portIsFree, visibleText } from "./support/leaks.js";
import { startServer, type Handler } from "./support/servers.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const tally = new Tally("hostile-endpoints");
let certs: TestCertificates;
before(() => {
  isolateCache();
  certs = makeCertificates();
});
after(() => tally.print());

const CLIENT_ID = "hostile-client";
const REQUEST_TIMEOUT = 0.5;
const MiB = 1024 * 1024;

function config(as: FakeAs, browser: ScriptedUserAgent, extra: Partial<LoginConfig> = {}): LoginConfig {
  return { issuer: as.issuer, clientId: CLIENT_ID, cache: false, timeout: 10, requestTimeout: REQUEST_TIMEOUT, openBrowser: browser.open, ...extra };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) =>
    void res
      .writeHead(status, { "content-type": "application/json", connection: "close", ...headers })
      .end(typeof body === "string" ? body : JSON.stringify(body));
const text =
  (status: number, body: string, type = "text/html"): Handler =>
  (_req, res) =>
    void res.writeHead(status, { "content-type": type, connection: "close" }).end(body);

/** A body that never ends: 64 KB chunks as fast as the client reads them. Counts what was written. */
function endless(status: number, written: { bytes: number; closed: boolean }, type = "application/json"): Handler {
  return (_req, res) => {
    res.writeHead(status, { "content-type": type });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    res.write('{"pad":"');
    const pump = (): void => {
      while (!res.destroyed) {
        written.bytes += chunk.length;
        if (!res.write(chunk)) break;
      }
    };
    res.on("drain", pump);
    res.on("close", () => (written.closed = true));
    pump();
  };
}

/** Headers, then some bytes of the body, then nothing (or a cut connection). */
function stalled(afterBytes: string, cut = false): Handler {
  return (_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": "500" });
    res.write(afterBytes);
    if (cut) setImmediate(() => res.socket?.destroy());
  };
}

function drip(): Handler {
  return (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    const body = JSON.stringify({ access_token: "x".repeat(40), token_type: "Bearer" });
    let i = 0;
    const timer: NodeJS.Timeout = setInterval(() => {
      if (res.destroyed || i >= body.length) return void (clearInterval(timer), res.end());
      res.write(body[i++]!);
    }, 100);
    res.on("close", () => clearInterval(timer));
  };
}

/** A token response that carries a real-looking access token, refused for another reason. */
function refusedWithToken(as: () => FakeAs, fields: Record<string, unknown>): Handler {
  return (_req, res) => {
    const token = randomBytes(32).toString("base64url");
    as().secrets.add(token);
    json(200, { access_token: token, token_type: "Bearer", expires_in: 3600, ...fields })(_req, res);
  };
}

const gzipBomb = gzipSync(Buffer.alloc(24 * MiB, 0x20));

/** The client dropped an endless body (within a second) after a bounded amount of it. */
async function droppedEarly(name: string, written: { bytes: number; closed: boolean }): Promise<void> {
  for (let i = 0; i < 50 && !written.closed; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(written.closed, `${name}: the client did not drop the connection`);
  // The limit is 1 MiB; socket buffers on loopback hold a few MiB more.
  assert.ok(written.bytes < 32 * MiB, `${name}: the server wrote ${written.bytes} bytes before the client stopped`);
}

interface EndpointCase {
  name: string;
  handler: Handler;
  code: LoginErrorCode;
  match: RegExp;
  oauthError?: string;
  /** Checks after the case (server-side observations). */
  check?: () => Promise<void>;
}

/** One login whose token endpoint misbehaves; the browser must be told the sign-in failed. */
async function tokenCase(ctx: CaseContext, c: EndpointCase, options: FakeAsOptions = {}): Promise<void> {
  await withFakeAs(ctx, { ...options, token: (req, res) => c.handler(req, res) }, async (as) => {
    const browser = new ScriptedUserAgent();
    const error = await expectLoginError(ctx, login(config(as, browser)), c.code, c.name);
    ctx.tried();
    assert.match(error.message, c.match, c.name);
    assert.ok(isTidyMessage(error.message), `${c.name}: ${JSON.stringify(error.message.slice(0, 200))} (${error.message.length} chars)`);
    if (c.oauthError) assert.equal(error.error, c.oauthError, c.name);
    const visit = await browser.last!;
    ctx.seen(visit.finalBody);
    assert.match(visit.finalBody, /Sign-in failed/, `${c.name}: the browser is told`);
    assert.ok(await portIsFree(Number(visit.callbackUrl!.port)), c.name);
    await c.check?.();
  });
}

/** One login whose discovery document is served by `handler`. */
async function discoveryCase(ctx: CaseContext, c: EndpointCase): Promise<void> {
  let opened = false;
  await withFakeAs(ctx, { discovery: c.handler }, async (as) => {
    const error = await expectLoginError(ctx, login(config(as, new ScriptedUserAgent(), { openBrowser: () => void (opened = true) })), c.code, c.name);
    ctx.tried();
    assert.match(error.message, c.match, c.name);
    assert.ok(isTidyMessage(error.message), `${c.name}: ${JSON.stringify(error.message.slice(0, 200))}`);
    assert.equal(opened, false, `${c.name}: no browser was opened`);
    assert.equal(as.hits.get("/token") ?? 0, 0);
    await c.check?.();
  });
}

describe("token endpoint", () => {
  hostileTest(
    tally,
    "4xx and 5xx, with and without OAuth error bodies: TOKEN_REQUEST_FAILED, the server's error kept, its text clipped and cleaned",
    async (ctx) => {
      const cases: EndpointCase[] = [
        {
          name: "400 invalid_grant",
          handler: json(400, { error: "invalid_grant", error_description: "code expired" }),
          code: "TOKEN_REQUEST_FAILED",
          match: /HTTP 400, invalid_grant: code expired/,
          oauthError: "invalid_grant",
        },
        {
          name: "400 with an HTML, control-character, 20 KB description",
          handler: json(400, { error: "invalid_request", error_description: `<script>alert(1)</script>\u001b[2J\r\nInjected: line${"d".repeat(20_000)}` }),
          code: "TOKEN_REQUEST_FAILED",
          match: /invalid_request: <script>alert\(1\)<\/script> \[2J Injected: line/,
          oauthError: "invalid_request",
        },
        {
          name: "400 with a 5,000-character error code",
          handler: json(400, { error: `e${"r".repeat(5000)}\u0007` }),
          code: "TOKEN_REQUEST_FAILED",
          match: /HTTP 400, er+…\)/,
        },
        {
          name: "400 with a non-UTF-8 body",
          handler: (_q, s) => void s.writeHead(400, { "content-type": "application/json" }).end(Buffer.from([0x7b, 0x22, 0x65, 0xff, 0xfe, 0x22, 0x7d])),
          code: "TOKEN_REQUEST_FAILED",
          match: /HTTP 400 and no OAuth error/,
        },
        {
          name: "401 invalid_client with a challenge",
          handler: json(401, { error: "invalid_client" }, { "www-authenticate": 'Basic realm="token"' }),
          code: "TOKEN_REQUEST_FAILED",
          match: /HTTP 401/,
          oauthError: "invalid_client",
        },
        {
          name: "400 without a body",
          handler: (_q, s) => void s.writeHead(400, { connection: "close" }).end(),
          code: "TOKEN_REQUEST_FAILED",
          match: /HTTP 400 and no OAuth error/,
        },
        {
          name: "400 with an HTML body",
          handler: text(400, "<html><h1>Bad Request</h1></html>"),
          code: "TOKEN_REQUEST_FAILED",
          match: /HTTP 400 and no OAuth error/,
        },
        {
          name: "400 OAuth JSON sent as text/html",
          handler: text(400, '{"error":"invalid_grant"}'),
          code: "TOKEN_REQUEST_FAILED",
          match: /HTTP 400 and no OAuth error/,
        },
        { name: "403 HTML", handler: text(403, "<h1>Forbidden</h1>"), code: "TOKEN_REQUEST_FAILED", match: /HTTP 403/ },
        { name: "404 text", handler: text(404, "not found", "text/plain"), code: "TOKEN_REQUEST_FAILED", match: /HTTP 404/ },
        { name: "500 HTML", handler: text(500, "<h1>Internal Server Error</h1>"), code: "TOKEN_REQUEST_FAILED", match: /HTTP 500 and no OAuth error/ },
        { name: "502 empty", handler: (_q, s) => void s.writeHead(502).end(), code: "TOKEN_REQUEST_FAILED", match: /HTTP 502/ },
        { name: "503 with an OAuth error body", handler: json(503, { error: "temporarily_unavailable" }), code: "TOKEN_REQUEST_FAILED", match: /HTTP 503/ },
        { name: "204 no content", handler: (_q, s) => void s.writeHead(204).end(), code: "TOKEN_REQUEST_FAILED", match: /HTTP 204/ },
      ];
      for (const c of cases) await tokenCase(ctx, c);
    },
  );

  hostileTest(
    tally,
    "200 with HTML, truncated or wrong JSON, or a token that is not Bearer: INVALID_TOKEN_RESPONSE, and a token in the refused body stays hidden",
    async (ctx) => {
      let current: FakeAs | undefined;
      const as = (): FakeAs => current!;
      const cases: EndpointCase[] = [
        { name: "HTML", handler: text(200, "<html>Welcome</html>"), code: "INVALID_TOKEN_RESPONSE", match: /did not validate/ },
        { name: "truncated JSON", handler: json(200, '{"access_token":"abcdefghijklmnop'), code: "INVALID_TOKEN_RESPONSE", match: /did not validate/ },
        { name: "a JSON array", handler: json(200, "[1,2,3]"), code: "INVALID_TOKEN_RESPONSE", match: /did not validate/ },
        { name: "JSON null", handler: json(200, "null"), code: "INVALID_TOKEN_RESPONSE", match: /did not validate/ },
        { name: "no access_token", handler: json(200, { token_type: "Bearer" }), code: "INVALID_TOKEN_RESPONSE", match: /did not validate/ },
        {
          name: "an empty access_token",
          handler: json(200, { access_token: "", token_type: "Bearer" }),
          code: "INVALID_TOKEN_RESPONSE",
          match: /did not validate/,
        },
        { name: "token_type mac", handler: refusedWithToken(as, { token_type: "mac" }), code: "INVALID_TOKEN_RESPONSE", match: /unsupported `token_type`/ },
        { name: "no token_type", handler: refusedWithToken(as, { token_type: undefined }), code: "INVALID_TOKEN_RESPONSE", match: /did not validate/ },
        { name: "expires_in not a number", handler: refusedWithToken(as, { expires_in: "soon" }), code: "INVALID_TOKEN_RESPONSE", match: /did not validate/ },
        {
          name: "an ID token that is not a JWT",
          handler: refusedWithToken(as, { id_token: "not-a-jwt" }),
          code: "INVALID_TOKEN_RESPONSE",
          match: /did not validate/,
        },
      ];
      for (const c of cases) {
        await withFakeAs(ctx, {}, async (fake) => {
          current = fake;
          fake.options.token = (req, res) => c.handler(req, res);
          const browser = new ScriptedUserAgent();
          const error = await expectLoginError(ctx, login(config(fake, browser)), c.code, c.name);
          ctx.tried();
          assert.match(error.message, c.match, c.name);
          assert.ok(isTidyMessage(error.message), c.name);
          assert.match((await browser.last!).finalBody, /Sign-in failed/);
        });
      }
    },
  );

  hostileTest(
    tally,
    "huge and endless bodies are read up to 1 MiB only (also gzip bombs and error bodies), the connection is dropped, and the error says why",
    async (ctx) => {
      const endlessOk = { bytes: 0, closed: false };
      const endlessError = { bytes: 0, closed: false };
      const bounded = (name: string, written: { bytes: number; closed: boolean }) => () => droppedEarly(name, written);
      const cases: EndpointCase[] = [
        {
          name: "2 MiB with Content-Length",
          handler: (_q, s) => void s.writeHead(200, { "content-type": "application/json", "content-length": String(2 * MiB) }).end(Buffer.alloc(2 * MiB, 0x20)),
          code: "TOKEN_REQUEST_FAILED",
          match: /oversized response \(the response from .* is larger than 1 MiB/,
        },
        {
          name: "endless 200 body",
          handler: endless(200, endlessOk),
          code: "TOKEN_REQUEST_FAILED",
          match: /larger than 1 MiB/,
          check: bounded("endless 200", endlessOk),
        },
        // oauth4webapi reads 4xx bodies for an OAuth error and ignores what it cannot parse.
        {
          name: "endless 400 body",
          handler: endless(400, endlessError),
          code: "TOKEN_REQUEST_FAILED",
          match: /HTTP 400 and no OAuth error/,
          check: bounded("endless 400", endlessError),
        },
        {
          name: "gzip bomb (24 KB inflating to 24 MiB)",
          handler: (_q, s) => void s.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(gzipBomb),
          code: "TOKEN_REQUEST_FAILED",
          match: /larger than 1 MiB/,
        },
      ];
      for (const c of cases) await tokenCase(ctx, c);
    },
  );

  hostileTest(tally, "redirects from the token endpoint are not followed: the code never reaches the redirect's target", async (ctx) => {
    const thief = await startServer(
      (_req, res) => void res.writeHead(200, { "content-type": "application/json" }).end('{"access_token":"stolen-token-value","token_type":"Bearer"}'),
    );
    let thiefHits = 0;
    thief.server.on("request", () => thiefHits++);
    try {
      for (const status of [301, 302, 303, 307, 308]) {
        await tokenCase(ctx, {
          name: `${status} to another server`,
          handler: (_q, s) => void s.writeHead(status, { location: `${thief.url}/token`, connection: "close" }).end(),
          code: "TOKEN_REQUEST_FAILED",
          match: new RegExp(`HTTP ${status}`),
        });
      }
      assert.equal(thiefHits, 0, "the redirect's target received the code");
    } finally {
      await thief.close();
    }
  });

  hostileTest(
    tally,
    "slow and hanging token endpoints time out after requestTimeout: no answer, a stalled body, one byte at a time, a cut connection",
    async (ctx) => {
      const cases: EndpointCase[] = [
        { name: "no answer", handler: () => {}, code: "TOKEN_REQUEST_FAILED", match: /did not answer within 0\.5 s/ },
        { name: "headers, then a stalled body", handler: stalled('{"access_token":"'), code: "TOKEN_REQUEST_FAILED", match: /did not answer within 0\.5 s/ },
        { name: "one byte every 100 ms", handler: drip(), code: "TOKEN_REQUEST_FAILED", match: /did not answer within 0\.5 s/ },
        {
          name: "connection reset before answering",
          handler: (req) => void req.socket.destroy(),
          code: "TOKEN_REQUEST_FAILED",
          match: /Could not reach the token endpoint .*(closed|reset)/,
        },
        {
          name: "connection cut in the middle of the body",
          handler: stalled('{"access_token":"abc', true),
          code: "TOKEN_REQUEST_FAILED",
          match: /Could not reach the token endpoint .*(closed|reset)/,
        },
      ];
      for (const c of cases) {
        const started = Date.now();
        await tokenCase(ctx, c);
        assert.ok(Date.now() - started < 5000, `${c.name}: took ${Date.now() - started} ms`);
      }
    },
  );
});

describe("discovery", () => {
  hostileTest(
    tally,
    "broken discovery answers (errors, HTML, bad JSON, huge, endless, redirects, hangs, cuts) are DISCOVERY_FAILED before any browser opens",
    async (ctx) => {
      const endlessDoc = { bytes: 0, closed: false };
      const other = await startServer((_req, res) => void res.writeHead(200, { "content-type": "application/json" }).end("{}"));
      let otherHits = 0;
      other.server.on("request", () => otherHits++);
      const cases: EndpointCase[] = [
        { name: "404", handler: text(404, "no"), code: "DISCOVERY_FAILED", match: /answered HTTP 404/ },
        { name: "500 HTML", handler: text(500, "<h1>down</h1>"), code: "DISCOVERY_FAILED", match: /answered HTTP 500/ },
        { name: "200 HTML", handler: text(200, "<html>login</html>"), code: "DISCOVERY_FAILED", match: /not a valid OAuth\/OpenID Connect discovery document/ },
        { name: "truncated JSON", handler: json(200, '{"issuer":"http://127.0.0.1'), code: "DISCOVERY_FAILED", match: /not a valid/ },
        { name: "a JSON array", handler: json(200, "[]"), code: "DISCOVERY_FAILED", match: /not a valid/ },
        { name: "no issuer", handler: json(200, { authorization_endpoint: "https://id.example/auth" }), code: "DISCOVERY_FAILED", match: /not a valid/ },
        { name: "an issuer that is not a URL", handler: json(200, { issuer: "not a url" }), code: "DISCOVERY_FAILED", match: /not a valid/ },
        {
          name: "2 MiB with Content-Length",
          handler: (_q, s) => void s.writeHead(200, { "content-type": "application/json", "content-length": String(2 * MiB) }).end(Buffer.alloc(2 * MiB, 0x20)),
          code: "DISCOVERY_FAILED",
          match: /oversized answer .*larger than 1 MiB/,
        },
        {
          name: "endless",
          handler: endless(200, endlessDoc),
          code: "DISCOVERY_FAILED",
          match: /larger than 1 MiB/,
          check: () => droppedEarly("endless document", endlessDoc),
        },
        {
          name: "gzip bomb",
          handler: (_q, s) => void s.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(gzipBomb),
          code: "DISCOVERY_FAILED",
          match: /larger than 1 MiB/,
        },
        {
          name: "redirect to another origin",
          handler: (_q, s) => void s.writeHead(302, { location: `${other.url}/.well-known/openid-configuration`, connection: "close" }).end(),
          code: "DISCOVERY_FAILED",
          match: /answered HTTP 302/,
        },
        { name: "no answer", handler: () => {}, code: "DISCOVERY_FAILED", match: /did not answer within 0\.5 s/ },
        { name: "headers, then a stalled body", handler: stalled('{"issuer":"'), code: "DISCOVERY_FAILED", match: /did not answer within 0\.5 s/ },
        { name: "connection reset", handler: (req) => void req.socket.destroy(), code: "DISCOVERY_FAILED", match: /Could not reach .*(closed|reset)/ },
        { name: "connection cut in the body", handler: stalled('{"issuer":"', true), code: "DISCOVERY_FAILED", match: /Could not reach .*(closed|reset)/ },
      ];
      try {
        for (const c of cases) await discoveryCase(ctx, c);
        assert.equal(otherHits, 0, "a cross-origin redirect was followed");
      } finally {
        await other.close();
      }
    },
  );

  hostileTest(
    tally,
    "mix-up: a document naming another issuer is ISSUER_MISMATCH; endpoints that are not https (javascript:, data:, plain http) are refused before the browser opens",
    async (ctx) => {
      const cases: { name: string; metadata: (issuer: string) => Record<string, unknown>; code: LoginErrorCode; match: RegExp }[] = [
        {
          name: "another issuer",
          metadata: () => ({ issuer: "https://evil.example" }),
          code: "ISSUER_MISMATCH",
          match: /names the issuer "https:\/\/evil\.example"/,
        },
        { name: "the same host, another path (tenant)", metadata: (issuer) => ({ issuer: `${issuer}/tenant-b` }), code: "ISSUER_MISMATCH", match: /tenant-b/ },
        {
          name: "the same host, https instead of http",
          metadata: (issuer) => ({ issuer: issuer.replace("http:", "https:") }),
          code: "ISSUER_MISMATCH",
          match: /names the issuer/,
        },
        {
          name: "a javascript: sign-in link",
          metadata: () => ({ authorization_endpoint: "javascript:alert(document.domain)//" }),
          code: "DISCOVERY_FAILED",
          match: /authorization_endpoint.*not an https URL/,
        },
        {
          name: "a data: sign-in link",
          metadata: () => ({ authorization_endpoint: "data:text/html,<script>alert(1)</script>" }),
          code: "DISCOVERY_FAILED",
          match: /authorization_endpoint.*not an https URL/,
        },
        {
          name: "a plain-http token endpoint on the internet",
          metadata: () => ({ token_endpoint: "http://tslab-oauth-test.invalid/token" }),
          code: "DISCOVERY_FAILED",
          match: /token_endpoint.*not an https URL/,
        },
        {
          name: "a plain-http revocation endpoint",
          metadata: () => ({ revocation_endpoint: "http://tslab-oauth-test.invalid/revoke" }),
          code: "DISCOVERY_FAILED",
          match: /revocation_endpoint/,
        },
        { name: "no token endpoint", metadata: () => ({ token_endpoint: undefined }), code: "DISCOVERY_FAILED", match: /has no `token_endpoint`/ },
      ];
      for (const c of cases) {
        let opened = false;
        await withFakeAs(ctx, {}, async (as) => {
          as.options.metadata = c.metadata(as.issuer);
          const error = await expectLoginError(ctx, login(config(as, new ScriptedUserAgent(), { openBrowser: () => void (opened = true) })), c.code, c.name);
          ctx.tried();
          assert.match(error.message, c.match, c.name);
          assert.ok(isTidyMessage(error.message), c.name);
          assert.equal(opened, false, `${c.name}: the browser was opened`);
        });
      }
    },
  );
});

describe("TLS", () => {
  hostileTest(
    tally,
    "a provider whose certificate comes from an unknown authority is refused (DISCOVERY_FAILED, the TLS error as cause); `ca` with that authority signs in",
    async (ctx) => {
      await withFakeAs(ctx, { tls: { key: certs.key, cert: certs.cert } }, async (as) => {
        let opened = false;
        const openBrowser = (): void => void (opened = true);
        const refused = await expectLoginError(ctx, login(config(as, new ScriptedUserAgent(), { openBrowser })), "DISCOVERY_FAILED", "no ca");
        ctx.tried();
        assert.match(refused.message, /not issued by an authority this machine trusts.*pass its PEM certificate as `ca`/);
        assert.match(visibleText(refused.cause), /UNABLE_TO_VERIFY_LEAF_SIGNATURE/, "the TLS error is the cause");
        const wrong = await expectLoginError(
          ctx,
          login(config(as, new ScriptedUserAgent(), { openBrowser, ca: certs.otherCa })),
          "DISCOVERY_FAILED",
          "another ca",
        );
        ctx.tried();
        assert.match(wrong.message, /not issued by an authority/);
        assert.equal(opened, false);
        assert.equal(as.hits.get("/.well-known/openid-configuration") ?? 0, 0, "no HTTP request got through");

        for (const ca of [certs.ca, Buffer.from(certs.ca), [certs.otherCa, certs.ca], `${certs.otherCa}${certs.ca}`]) {
          const browser = new ScriptedUserAgent({ ca: certs.ca });
          const headers = await login(config(as, browser, { ca }));
          ctx.tried();
          assert.equal(headers.Authorization, `Bearer ${as.accessTokens.at(-1)}`);
        }
      });
    },
  );

  hostileTest(
    tally,
    "a token endpoint with an unknown authority: TOKEN_REQUEST_FAILED before the code is sent; a certificate for another host name is refused even with `ca`",
    async (ctx) => {
      await withFakeAs(ctx, { tls: { key: certs.key, cert: certs.cert } }, async (as) => {
        const browser = new ScriptedUserAgent({ ca: certs.ca });
        const error = await expectLoginError(
          ctx,
          login(config(as, browser, { issuer: undefined, authorizationEndpoint: as.authorizationEndpoint, tokenEndpoint: as.tokenEndpoint })),
          "TOKEN_REQUEST_FAILED",
        );
        ctx.tried();
        assert.match(error.message, /token endpoint .* not issued by an authority this machine trusts/);
        assert.equal(as.hits.get("/token") ?? 0, 0, "the code reached the token endpoint");
        assert.match((await browser.last!).finalBody, /Sign-in failed/);
      });
      await withFakeAs(ctx, { tls: { key: certs.key, cert: certs.cert }, host: "127.0.0.2" }, async (as) => {
        const error = await expectLoginError(
          ctx,
          login(config(as, new ScriptedUserAgent(), { ca: certs.ca, openBrowser: false })),
          "DISCOVERY_FAILED",
          "wrong host name",
        );
        ctx.tried();
        assert.match(error.message, /certificate is for another host name, ERR_TLS_CERT_ALTNAME_INVALID/);
      });
    },
  );

  hostileTest(tally, "`ca` that is not PEM certificates is INVALID_CONFIG, before any request", async (ctx) => {
    const bad: unknown[] = [
      "not a certificate",
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      [],
      [""],
      42,
      Buffer.from("garbage"),
      [certs.ca, {}],
    ];
    for (const ca of bad) {
      const error = await expectLoginError(
        ctx,
        login({ issuer: "https://127.0.0.1:1", clientId: CLIENT_ID, ca: ca as string }),
        "INVALID_CONFIG",
        JSON.stringify(ca),
      );
      ctx.tried();
      assert.match(error.message, /`ca` must be PEM certificates/);
    }
  });
});

describe("device authorization answers", () => {
  hostileTest(
    tally,
    "verification links that are not https (javascript:, data:, plain http elsewhere) are refused before anything is shown or opened",
    async (ctx) => {
      for (const link of ["javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "http://evil.example/device", "not a url"]) {
        for (const field of ["verification_uri", "verification_uri_complete"]) {
          let opened = false;
          const server = await startServer((req, res) => {
            const origin = `http://127.0.0.1:${(req.socket.address() as { port: number }).port}`;
            if (req.url?.startsWith("/.well-known/")) {
              json(200, {
                issuer: origin,
                authorization_endpoint: `${origin}/auth`,
                token_endpoint: `${origin}/token`,
                device_authorization_endpoint: `${origin}/device`,
              })(req, res);
            } else if (req.url === "/device") {
              const body: Record<string, unknown> = {
                device_code: randomBytes(16).toString("hex"),
                user_code: "ABCD-EFGH",
                verification_uri: `${origin}/verify`,
                expires_in: 60,
              };
              body[field] = link;
              json(200, body)(req, res);
            } else {
              json(400, { error: "authorization_pending" })(req, res);
            }
          });
          try {
            ctx.tried();
            const error = await expectLoginError(
              ctx,
              login({
                issuer: server.url,
                clientId: CLIENT_ID,
                cache: false,
                flow: "device",
                timeout: 5,
                requestTimeout: REQUEST_TIMEOUT,
                openBrowser: () => void (opened = true),
              }),
              "TOKEN_REQUEST_FAILED",
              `${field} = ${link}`,
            );
            assert.match(error.message, new RegExp(`\`${field}\` is not an https URL`));
            assert.ok(isTidyMessage(error.message));
            assert.equal(opened, false, "nothing opened");
            assert.ok(!ctx.output().includes(link.slice(0, 15)), "nothing shown");
          } finally {
            await server.close();
          }
        }
      }
    },
  );
});

describe("error redirects", () => {
  hostileTest(tally, "an `error` value of 5000 characters with terminal escapes is clipped and cleaned in the message", async (ctx) => {
    const noise = `\u001b[2J\u001b]0;owned\u0007${"x".repeat(5000)}`;
    await withFakeAs(
      ctx,
      {
        callback: (params) => {
          params.delete("code");
          params.set("error", noise);
        },
      },
      async (as) => {
        ctx.tried();
        const error = await expectLoginError(ctx, login(config(as, new ScriptedUserAgent())), "AUTHORIZATION_DENIED");
        assert.ok(isTidyMessage(error.message, 600), `message of ${error.message.length} characters`);
      },
    );
  });
});

describe("pushed authorization requests and DPoP", () => {
  hostileTest(
    tally,
    "a PAR endpoint that refuses, fails, lies or hangs: AUTHORIZATION_REQUEST_REJECTED or TOKEN_REQUEST_FAILED at once, no browser, no token request",
    async (ctx) => {
      const endlessPar = { bytes: 0, closed: false };
      const cases: EndpointCase[] = [
        {
          name: "400 invalid_request about the redirect_uri",
          handler: json(400, { error: "invalid_request", error_description: "redirect_uri did not match" }),
          code: "AUTHORIZATION_REQUEST_REJECTED",
          match: /HTTP 400, invalid_request: redirect_uri did not match\), so no browser was opened\. Register http:\/\/127\.0\.0\.1\/callback \(any port\)/,
          oauthError: "invalid_request",
        },
        {
          name: "401 invalid_client with a challenge",
          handler: json(401, { error: "invalid_client" }, { "www-authenticate": 'Basic realm="par"' }),
          code: "AUTHORIZATION_REQUEST_REJECTED",
          match: /Check `clientId`/,
          oauthError: "invalid_client",
        },
        {
          name: "400 with a 20 KB HTML description",
          handler: json(400, { error: "invalid_scope", error_description: `<b>${"s".repeat(20_000)}` }),
          code: "AUTHORIZATION_REQUEST_REJECTED",
          match: /invalid_scope: <b>s+…\).*Check `scopes`/s,
          oauthError: "invalid_scope",
        },
        {
          name: "500 HTML",
          handler: text(500, "<h1>Internal Server Error</h1>"),
          code: "AUTHORIZATION_REQUEST_REJECTED",
          match: /answered HTTP 500 without a usable answer.*`par: false`/s,
        },
        {
          name: "200 HTML instead of 201",
          handler: text(200, "<html>Welcome</html>"),
          code: "AUTHORIZATION_REQUEST_REJECTED",
          match: /answered HTTP 200 without a usable answer/,
        },
        { name: "201 without request_uri", handler: json(201, { expires_in: 60 }), code: "AUTHORIZATION_REQUEST_REJECTED", match: /without a usable answer/ },
        {
          name: "201 with a request_uri that is a number",
          handler: json(201, { request_uri: 42, expires_in: 60 }),
          code: "AUTHORIZATION_REQUEST_REJECTED",
          match: /without a usable answer/,
        },
        {
          name: "an endless body",
          handler: endless(201, endlessPar),
          code: "TOKEN_REQUEST_FAILED",
          match: /pushed authorization request endpoint .* oversized/,
          check: () => droppedEarly("endless PAR body", endlessPar),
        },
        { name: "no answer", handler: () => {}, code: "TOKEN_REQUEST_FAILED", match: /pushed authorization request endpoint .* did not answer within 0\.5 s/ },
      ];
      for (const c of cases) {
        let opened = false;
        await withFakeAs(ctx, { par: c.handler }, async (as) => {
          const error = await expectLoginError(
            ctx,
            login(config(as, new ScriptedUserAgent(), { flow: "loopback", openBrowser: () => void (opened = true) })),
            c.code,
            c.name,
          );
          ctx.tried();
          assert.match(error.message, c.match, c.name);
          assert.ok(isTidyMessage(error.message), `${c.name}: ${JSON.stringify(error.message.slice(0, 200))} (${error.message.length} chars)`);
          if (c.oauthError) assert.equal(error.error, c.oauthError, c.name);
          assert.equal(opened, false, `${c.name}: no browser was opened`);
          assert.equal(as.hits.get("/authorize") ?? 0, 0, c.name);
          assert.equal(as.hits.get("/token") ?? 0, 0, c.name);
          await c.check?.();
        });
      }
    },
  );

  hostileTest(
    tally,
    "dpop: true with a server that advertises DPoP but answers the proof with a Bearer token: INVALID_TOKEN_RESPONSE, and that token is neither kept nor shown",
    async (ctx) => {
      await withFakeAs(ctx, { metadata: { dpop_signing_alg_values_supported: ["ES256"] } }, async (as) => {
        const cacheDir = isolateCache();
        const browser = new ScriptedUserAgent();
        const error = await expectLoginError(
          ctx,
          session({
            issuer: as.issuer,
            clientId: CLIENT_ID,
            cacheDir,
            dpop: true,
            flow: "loopback",
            timeout: 10,
            requestTimeout: REQUEST_TIMEOUT,
            openBrowser: browser.open,
          }),
          "INVALID_TOKEN_RESPONSE",
        );
        ctx.tried();
        assert.match(error.message, /answered the DPoP proof with a Bearer token.*not kept/);
        assert.equal(as.accessTokens.length, 1, "the server issued one (Bearer) token");
        assert.match((await browser.last!).finalBody, /Sign-in failed/);
        assert.ok(
          !existsSync(join(cacheDir, "tokens.json")) || !readFileSync(join(cacheDir, "tokens.json"), "utf8").includes(as.accessTokens[0]!),
          "the Bearer token was not saved",
        );
      });
    },
  );
});
