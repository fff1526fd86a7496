// Servers that bend the RFCs (issue #14), each deviation played by a small test server that behaves
// exactly so (seen on real, independent servers; they cannot run here). A conforming real server
// (django-oauth-toolkit) is in test/dot.test.ts. Each test asserts what the user notices: signed in
// or not, requests that reached the server, the code, the message, the cache afterwards.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { beforeEach, describe, test } from "node:test";
import { login, logout, LoginError, type LoginConfig } from "../src/index.js";
import { formEncode } from "../src/protocol/client-auth.js";
import { isolateCache } from "./support/fixtures.js";
import { startServer } from "./support/servers.js";
import { ScriptedUserAgent } from "./support/user-agent.js";
import { captureOutput } from "./support/capture.js";
import { assertNoSecret, portIsFree, visibleText } from "./support/leaks.js";

interface BentOptions {
  /** Registered confidential client (id → secret); anything else is a public client. */
  secrets?: Record<string, string>;
  /** How the token endpoint reads client credentials: Basic compared as sent (never decoded), and/or the body. */
  basic?: "raw" | "refuse";
  acceptPost?: boolean;
  /** How a refused client is answered. */
  clientRefusal?: "401 invalid_client" | "403 unauthorized_client" | "401 empty";
  /** `token_endpoint_auth_methods_supported`, when advertised. */
  authMethods?: string[];
  /** How a refresh is answered. */
  refresh?: "ok" | "400 empty" | "400 invalid_request" | "500";
  /** Registered redirect URIs; they match loopback URIs on any port (RFC 8252 §7.3) unless `anyPort` is false. */
  redirects?: string[];
  anyPort?: boolean;
  /** How an unregistered redirect URI is answered: an error page with this status, never a redirect. */
  redirectRefusal?: 400 | 403 | 200;
  /** Revocation refused to public clients with a bare 401. */
  publicRevocation?: "refuse";
  expiresIn?: number;
}

interface Bent {
  issuer: string;
  /** What the server does; a test may change it between requests. */
  options: BentOptions;
  hits: Record<string, number>;
  /** The client credentials each token or revocation request carried: Basic as sent, or in the body. */
  credentials: { path: string; how: "basic" | "post" | "none"; id: string; secret?: string }[];
  issued: string[];
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", connection: "close" }).end(JSON.stringify(body));
};

async function startBent(options: BentOptions): Promise<Bent> {
  const hits: Record<string, number> = {};
  const credentials: Bent["credentials"] = [];
  const issued: string[] = [];
  const codes = new Set<string>();
  const refreshTokens = new Set<string>();
  let issuer = "";
  const registered = (uri: string): boolean =>
    (options.redirects ?? ["http://127.0.0.1/callback"]).some(
      (r) => r === uri || (options.anyPort !== false && r === uri.replace(/^(http:\/\/127\.0\.0\.1):\d+\//, "$1/")),
    );
  const refuseClient = (res: ServerResponse): void => {
    const how = options.clientRefusal ?? "401 invalid_client";
    if (how === "401 empty") return void res.writeHead(401, { connection: "close" }).end();
    if (how === "403 unauthorized_client") return json(res, 403, { error: "unauthorized_client" });
    return json(res, 401, { error: "invalid_client" });
  };
  const issue = (res: ServerResponse): void => {
    const access = randomBytes(24).toString("base64url");
    const refresh = randomBytes(24).toString("base64url");
    refreshTokens.add(refresh);
    issued.push(access, refresh);
    json(res, 200, { access_token: access, token_type: "Bearer", expires_in: options.expiresIn ?? 3600, refresh_token: refresh });
  };
  /** The client the request authenticates as, or undefined after answering a refusal. */
  const authenticate = (req: IncomingMessage, form: URLSearchParams, path: string, res: ServerResponse): string | undefined => {
    const header = req.headers.authorization;
    if (header?.startsWith("Basic ")) {
      const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      const [id, secret] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
      credentials.push({ path, how: "basic", id, secret });
      // Compared exactly as sent: no form decoding (against RFC 6749 §2.3.1).
      if (options.basic === "refuse" || options.secrets?.[id] !== secret) return void refuseClient(res);
      return id;
    }
    const id = form.get("client_id") ?? "";
    const secret = form.get("client_secret") ?? undefined;
    credentials.push({ path, how: secret === undefined ? "none" : "post", id, ...(secret === undefined ? {} : { secret }) });
    if (options.secrets?.[id] !== undefined) {
      if (secret === undefined || !options.acceptPost || options.secrets[id] !== secret) return void refuseClient(res);
    }
    return id;
  };

  const server = await startServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    hits[url.pathname] = (hits[url.pathname] ?? 0) + 1;
    if (url.pathname === "/.well-known/openid-configuration") {
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        revocation_endpoint: `${issuer}/revoke`,
        response_types_supported: ["code"],
        code_challenge_methods_supported: ["S256"],
        ...(options.authMethods ? { token_endpoint_auth_methods_supported: options.authMethods } : {}),
      });
    }
    if (url.pathname === "/authorize") {
      const redirect = url.searchParams.get("redirect_uri") ?? "";
      if (!registered(redirect)) {
        const page = `<!doctype html><html><head><title>Error</title><style>p{color:red}</style></head><body><h1>Invalid request</h1><p>The redirect_uri ${redirect.replace(/[<>&"]/g, "")} is not registered for this client.</p></body></html>`;
        return void res.writeHead(options.redirectRefusal ?? 400, { "content-type": "text/html", connection: "close" }).end(page);
      }
      const code = randomBytes(16).toString("base64url");
      codes.add(code);
      const back = new URL(redirect);
      back.searchParams.set("code", code);
      back.searchParams.set("state", url.searchParams.get("state") ?? "");
      return void res.writeHead(302, { location: back.href, connection: "close" }).end();
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      if (url.pathname === "/revoke") {
        if (!req.headers.authorization && !form.has("client_secret") && options.publicRevocation === "refuse")
          return void res.writeHead(401, { connection: "close" }).end();
        if (authenticate(req, form, url.pathname, res) === undefined) return;
        return void res.writeHead(200, { connection: "close" }).end();
      }
      if (url.pathname !== "/token") return void res.writeHead(404, { connection: "close" }).end();
      if (authenticate(req, form, url.pathname, res) === undefined) return;
      if (form.get("grant_type") === "authorization_code") {
        if (!codes.delete(form.get("code") ?? "")) return json(res, 400, { error: "invalid_grant" });
        return issue(res);
      }
      const refresh = options.refresh ?? "ok";
      if (refresh === "400 empty") return void res.writeHead(400, { connection: "close" }).end();
      if (refresh === "400 invalid_request")
        return json(res, 400, { error: "invalid_request", error_description: "unable to find session\u001b[31m for this token" });
      if (refresh === "500") return json(res, 500, { error: "server_error" });
      if (!refreshTokens.delete(form.get("refresh_token") ?? "")) return json(res, 400, { error: "invalid_grant" });
      issue(res);
    });
  });
  issuer = server.url;
  return { issuer, options, hits, credentials, issued, close: server.close };
}

/** A browser with a session at the provider: it follows the redirect back, or stops at an error page. */
function browser(): { open: (url: string) => void; opened: string[] } {
  const ua = new ScriptedUserAgent();
  const opened: string[] = [];
  return { opened, open: (url) => void (opened.push(url), ua.open(url)) };
}

function cacheFile(dir: string): Record<string, { clientAuthMethod?: string; accessToken: string; refreshToken?: string }> {
  return JSON.parse(readFileSync(join(dir, "tokens.json"), "utf8")) as ReturnType<typeof cacheFile>;
}

let cacheDir = "";
beforeEach(() => {
  cacheDir = isolateCache();
});

describe("client credentials in the Basic header (RFC 6749 §2.3.1, Appendix B)", () => {
  test("encoding: RFC 6749 Appendix B's vector, unreserved characters left as they are, and form decoding gives the value back", () => {
    // U+0020 U+0025 U+0026 U+002B U+00A3 U+20AC
    assert.equal(formEncode(" %&+£€"), "+%25%26%2B%C2%A3%E2%82%AC");
    assert.equal(formEncode("GOCSPX-ab_cd.ef~gh"), "GOCSPX-ab_cd.ef~gh");
    const awkward = "a+b %c:d/e~f-g_h.i!*'()";
    assert.equal(formEncode(awkward), "a%2Bb+%25c%3Ad%2Fe~f-g_h.i%21%2A%27%28%29");
    assert.equal(new URLSearchParams(`v=${formEncode(awkward)}`).get("v"), awkward);
  });

  test("a confidential client with - _ . ~ in its id and secret signs in at a server that compares Basic credentials as sent, with no option", async () => {
    const id = "my-app_1.0~nb";
    const secret = "GOCSPX-s3cr_et.v~1-long-enough";
    const bent = await startBent({ secrets: { [id]: secret }, basic: "raw" });
    try {
      const ua = browser();
      const headers = await login({ issuer: bent.issuer, clientId: id, clientSecret: secret, openBrowser: ua.open, timeout: 20 });
      assert.match(headers.Authorization, /^Bearer /);
      assert.equal(bent.hits["/token"], 1, "one token request: the first one was accepted");
      assert.deepEqual(bent.credentials[0], { path: "/token", how: "basic", id, secret });
    } finally {
      await bent.close();
    }
  });

  for (const refusal of ["401 invalid_client", "403 unauthorized_client", "401 empty"] as const) {
    test(`a server that refuses the Basic header (${refusal}) gets the secret in the body once; refresh and revocation then use the body at once`, async () => {
      const id = "webapp";
      const secret = "body-only-secret-4a1f9";
      const bent = await startBent({ secrets: { [id]: secret }, basic: "refuse", acceptPost: true, clientRefusal: refusal, expiresIn: 1 });
      try {
        const config: LoginConfig = { issuer: bent.issuer, clientId: id, clientSecret: secret, openBrowser: browser().open, timeout: 20 };
        const { stderr } = await captureOutput(() => login(config));
        assert.deepEqual(
          bent.credentials.map((c) => c.how),
          ["basic", "post"],
          "Basic, then the body, once",
        );
        assert.equal(Object.values(cacheFile(cacheDir))[0]!.clientAuthMethod, "client_secret_post", "the saved sign-in remembers the method that worked");
        // The token lived one second: the next login refreshes, sending the secret in the body first.
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const ua = browser();
        await login({ ...config, openBrowser: ua.open });
        assert.equal(ua.opened.length, 0, "refreshed silently");
        assert.deepEqual(
          bent.credentials.map((c) => c.how),
          ["basic", "post", "post"],
        );
        const result = await logout(config);
        assert.deepEqual(result.revoked, ["refresh_token", "access_token"]);
        assert.deepEqual(
          bent.credentials.slice(3).map((c) => `${c.path} ${c.how}`),
          ["/revoke post", "/revoke post"],
        );
        assertNoSecret(stderr, [secret, ...bent.issued]);
      } finally {
        await bent.close();
      }
    });
  }

  test("a wrong secret: TOKEN_REQUEST_FAILED after exactly two attempts, both answers in `cause`, the message naming tokenEndpointAuthMethod", async () => {
    const bent = await startBent({ secrets: { webapp: "the-right-secret-0d3c" }, basic: "raw", acceptPost: true });
    const wrong = "a-wrong-secret-9b8e7";
    try {
      const error = await login({ issuer: bent.issuer, clientId: "webapp", clientSecret: wrong, openBrowser: browser().open, timeout: 20 }).catch(
        (e: unknown) => e,
      );
      assert.ok(error instanceof LoginError);
      assert.equal(error.code, "TOKEN_REQUEST_FAILED");
      assert.equal(error.error, "invalid_client");
      assert.match(error.message, /in the Basic header \(invalid_client\) and in the request body \(invalid_client\).*`tokenEndpointAuthMethod`/);
      assert.ok(error.cause instanceof AggregateError);
      assert.equal(error.cause.errors.length, 2);
      assert.equal(bent.hits["/token"], 2, "never more than one retry");
      assertNoSecret(visibleText(error), [wrong, "the-right-secret-0d3c"]);
    } finally {
      await bent.close();
    }
  });

  test("no retry when the server lists only client_secret_basic, or when tokenEndpointAuthMethod was given", async () => {
    const bent = await startBent({ secrets: { webapp: "the-right-secret-0d3c" }, basic: "refuse", acceptPost: true, authMethods: ["client_secret_basic"] });
    try {
      const listed = await login({
        issuer: bent.issuer,
        clientId: "webapp",
        clientSecret: "the-right-secret-0d3c",
        openBrowser: browser().open,
        timeout: 20,
      }).catch((e: unknown) => e);
      assert.ok(listed instanceof LoginError && listed.code === "TOKEN_REQUEST_FAILED");
      assert.equal(bent.hits["/token"], 1);
    } finally {
      await bent.close();
    }
    const asked = await startBent({ secrets: { webapp: "the-right-secret-0d3c" }, basic: "refuse", acceptPost: true });
    try {
      const config: LoginConfig = {
        issuer: asked.issuer,
        clientId: "webapp",
        clientSecret: "the-right-secret-0d3c",
        tokenEndpointAuthMethod: "client_secret_basic",
        openBrowser: browser().open,
        timeout: 20,
      };
      const error = await login(config).catch((e: unknown) => e);
      assert.ok(error instanceof LoginError && error.code === "TOKEN_REQUEST_FAILED");
      assert.equal(asked.hits["/token"], 1);
    } finally {
      await asked.close();
    }
  });
});

describe("a refresh token refused in the server's own words", () => {
  for (const answer of ["400 empty", "400 invalid_request"] as const) {
    test(`answered ${answer}: the saved sign-in is dropped, the cell says why, and one browser sign-in follows`, async () => {
      const bent = await startBent({ expiresIn: 1 });
      try {
        const config: LoginConfig = { issuer: bent.issuer, clientId: "notebook", openBrowser: browser().open, timeout: 20 };
        await login(config);
        const before = Object.values(cacheFile(cacheDir))[0]!;
        await new Promise((resolve) => setTimeout(resolve, 1100));
        bent.options.refresh = answer; // from now on the server refuses every refresh this way
        const ua = browser();
        const { value: headers, stderr } = await captureOutput(() => login({ ...config, openBrowser: ua.open }));
        assert.equal(ua.opened.length, 1, "one browser sign-in");
        assert.equal(bent.hits["/token"], 3, "the first code, the refused refresh, the new code");
        assert.match(
          stderr,
          answer === "400 empty"
            ? /refused by the server \(HTTP 400 without an OAuth error\)/
            : /refused by the server \(HTTP 400, invalid_request: unable to find session \[31m for this token\)/,
        );
        assert.doesNotMatch(stderr, /\u001b/, "server text is cleaned of control characters");
        const after = Object.values(cacheFile(cacheDir))[0]!;
        assert.notEqual(after.refreshToken, before.refreshToken);
        assert.equal(headers.Authorization, `Bearer ${after.accessToken}`);
      } finally {
        await bent.close();
      }
    });
  }

  test("a 500 keeps the saved sign-in (byte for byte) and says what to do, with forceLogin", async () => {
    const bent = await startBent({ expiresIn: 1, refresh: "500" });
    try {
      const config: LoginConfig = { issuer: bent.issuer, clientId: "notebook", openBrowser: browser().open, timeout: 20 };
      await login(config);
      const saved = readFileSync(join(cacheDir, "tokens.json"), "utf8");
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const ua = browser();
      const error = await login({ ...config, openBrowser: ua.open }).catch((e: unknown) => e);
      assert.ok(error instanceof LoginError);
      assert.equal(error.code, "TOKEN_REQUEST_FAILED");
      assert.match(error.message, /saved sign-in is kept.*`forceLogin: true`/);
      assert.equal(ua.opened.length, 0);
      assert.equal(readFileSync(join(cacheDir, "tokens.json"), "utf8"), saved);
    } finally {
      await bent.close();
    }
  });
});

describe("an authorization request the server refuses on its own page", () => {
  for (const status of [400, 403] as const) {
    test(`answered ${status} with an HTML error page: AUTHORIZATION_REQUEST_REJECTED within seconds, quoting the page, naming the redirect URI to register`, async () => {
      const bent = await startBent({ redirects: ["http://127.0.0.1/elsewhere"], anyPort: true, redirectRefusal: status });
      try {
        const ua = browser();
        const started = Date.now();
        const error = await login({ issuer: bent.issuer, clientId: "notebook", openBrowser: ua.open, timeout: 60 }).catch((e: unknown) => e);
        const elapsed = Date.now() - started;
        assert.ok(error instanceof LoginError);
        assert.equal(error.code, "AUTHORIZATION_REQUEST_REJECTED");
        assert.equal(error.status, status);
        assert.ok(elapsed < 5000, `ended after ${elapsed} ms, not the 60 s timeout`);
        assert.match(error.message, /HTTP \d{3}: "Invalid request The redirect_uri http:\/\/127\.0\.0\.1:\d+\/callback is not registered for this client\."/);
        assert.doesNotMatch(error.message, /<|color:red/, "text only: no markup, no style");
        assert.match(error.message, /register http:\/\/127\.0\.0\.1\/callback \(any port\) for client "notebook"/);
        assert.equal(bent.hits["/token"], undefined, "no token request");
        const port = Number(new URL(new URL(ua.opened[0]!).searchParams.get("redirect_uri")!).port);
        assert.ok(await portIsFree(port), "the listener's port is free");
      } finally {
        await bent.close();
      }
    });
  }

  test("with `preflight: false` nothing but the browser asks, and the sign-in waits for its timeout", async () => {
    const bent = await startBent({ redirects: ["http://127.0.0.1/elsewhere"], anyPort: true, redirectRefusal: 400 });
    try {
      const ua = browser();
      const error = await login({ issuer: bent.issuer, clientId: "notebook", openBrowser: ua.open, timeout: 1.5, preflight: false }).catch((e: unknown) => e);
      assert.ok(error instanceof LoginError);
      assert.equal(error.code, "TIMEOUT");
      assert.equal(bent.hits["/authorize"], 1, "only the browser's request");
    } finally {
      await bent.close();
    }
  });

  test("a server that matches ports exactly and shows its error with HTTP 200: the TIMEOUT says to register a fixed port and pass it as redirectUri; doing so signs in", async () => {
    const fixed = "http://127.0.0.1:53682/callback";
    const bent = await startBent({ redirects: [fixed], anyPort: false, redirectRefusal: 200 });
    try {
      const error = await login({ issuer: bent.issuer, clientId: "notebook", openBrowser: browser().open, timeout: 1.5 }).catch((e: unknown) => e);
      assert.ok(error instanceof LoginError);
      assert.equal(error.code, "TIMEOUT");
      assert.match(
        error.message,
        /register http:\/\/127\.0\.0\.1\/callback \(any port\) for client "notebook"; if it compares ports too, register a fixed one such as http:\/\/127\.0\.0\.1:53682\/callback and pass it as `redirectUri`/,
      );
      const headers = await login({ issuer: bent.issuer, clientId: "notebook", redirectUri: fixed, openBrowser: browser().open, timeout: 20 });
      assert.match(headers.Authorization, /^Bearer /);
    } finally {
      await bent.close();
    }
  });
});

describe("revocation refused to public clients", () => {
  test("REVOCATION_FAILED says the tokens stay valid until they expire, keeps the entry; revoke: false forgets it", async () => {
    const bent = await startBent({ publicRevocation: "refuse" });
    try {
      const config: LoginConfig = { issuer: bent.issuer, clientId: "notebook", openBrowser: browser().open, timeout: 20 };
      await login(config);
      const saved = readFileSync(join(cacheDir, "tokens.json"), "utf8");
      const error = await logout(config).catch((e: unknown) => e);
      assert.ok(error instanceof LoginError);
      assert.equal(error.code, "REVOCATION_FAILED");
      assert.match(error.message, /accept revocation only from clients with a secret.*stay valid at the server until they expire.*`revoke: false`/);
      assert.equal(readFileSync(join(cacheDir, "tokens.json"), "utf8"), saved);
      const forgotten = await logout({ ...config, revoke: false });
      assert.equal(forgotten.removed, true);
      assert.deepEqual(Object.keys(cacheFile(cacheDir)), []);
    } finally {
      await bent.close();
    }
  });
});
