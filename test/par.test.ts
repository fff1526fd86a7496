// Pushed authorization requests (RFC 9126) against a real oidc-provider with PAR enabled: the
// browser gets only client_id and request_uri, a refused request fails before any browser opens.
import assert from "node:assert/strict";
import { after, beforeEach, test } from "node:test";
import { request } from "undici";
import { CONFIDENTIAL_CLIENT_ID, DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { beginLogin, login, LoginError } from "../src/index.js";
import { isolateCache, type DemoIdp } from "./support/fixtures.js";
import { captureOutput } from "./support/capture.js";
import { openHandles, portIsFree } from "./support/leaks.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

let withPar: Promise<DemoIdp> | undefined;
let withoutPar: Promise<DemoIdp> | undefined;
const parIdp = (): Promise<DemoIdp> => (withPar ??= startDemoIdp({ par: true }));
const plainIdp = (): Promise<DemoIdp> => (withoutPar ??= startDemoIdp());
after(async () => {
  for (const idp of [withPar, withoutPar]) if (idp) await (await idp).close();
});
beforeEach(() => {
  isolateCache();
});

const pushes = (idp: DemoIdp): number => idp.counts.get("/request") ?? 0;
const tokenRequests = (idp: DemoIdp): number => idp.counts.get("/token") ?? 0;

test("PAR is used when the server offers it: the browser sees only client_id and request_uri", async () => {
  const idp = await parIdp();
  const before = pushes(idp);
  const ua = new ScriptedUserAgent({ login: "alice" });
  const opened: string[] = [];
  const headers = await login({
    issuer: idp.issuer,
    clientId: DEMO_CLIENT_ID,
    scopes: ["openid", "profile"],
    flow: "loopback",
    openBrowser: (url) => {
      opened.push(url);
      ua.open(url);
    },
  });
  assert.equal(opened.length, 1);
  const url = new URL(opened[0]!);
  assert.equal(`${url.origin}${url.pathname}`, `${idp.issuer}/auth`);
  assert.deepEqual([...url.searchParams.keys()].sort(), ["client_id", "request_uri"]);
  assert.equal(url.searchParams.get("client_id"), DEMO_CLIENT_ID);
  assert.match(url.searchParams.get("request_uri")!, /^urn:ietf:params:oauth:request_uri:/);
  assert.equal(pushes(idp) - before, 1, "one pushed authorization request");
  const api = await fetch(`${idp.issuer}/api/me`, { headers });
  assert.equal(api.status, 200);
  assert.equal(((await api.json()) as { sub: string }).sub, "alice");
  // Every request the browser made carried nothing of the request but client_id and request_uri.
  for (const visited of (await ua.last!).visited.filter((u) => new URL(u).pathname === "/auth")) {
    assert.deepEqual([...new URL(visited).searchParams.keys()].sort(), ["client_id", "request_uri"], visited);
  }
});

test("par: false sends the whole request through the browser, as before", async () => {
  const idp = await parIdp();
  const before = pushes(idp);
  const ua = new ScriptedUserAgent();
  const opened: string[] = [];
  await login({
    issuer: idp.issuer,
    clientId: DEMO_CLIENT_ID,
    scopes: ["openid"],
    flow: "loopback",
    par: false,
    openBrowser: (url) => (opened.push(url), ua.open(url)),
  });
  const params = new URL(opened[0]!).searchParams;
  for (const name of ["redirect_uri", "state", "code_challenge", "nonce"]) assert.ok(params.has(name), name);
  assert.equal(params.has("request_uri"), false);
  assert.equal(pushes(idp), before, "nothing pushed");
});

test("a refused pushed request ends the login at once: the server's error, the redirect URI to register, no browser", async () => {
  const idp = await parIdp();
  const handles = await openHandles();
  const tokens = tokenRequests(idp);
  let opened = 0;
  const started = Date.now();
  const error = await login({
    issuer: idp.issuer,
    clientId: DEMO_CLIENT_ID,
    scopes: ["openid"],
    flow: "loopback",
    redirectUri: "http://127.0.0.1:0/unregistered",
    openBrowser: () => void opened++,
  }).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError, String(error));
  assert.equal(error.code, "AUTHORIZATION_REQUEST_REJECTED");
  assert.equal(error.status, 400);
  assert.ok(error.error, "the server's error code is kept");
  assert.match(error.message, /pushed authorization request endpoint/);
  assert.match(error.message, /Register http:\/\/127\.0\.0\.1\/unregistered \(any port\) for client "tslab-demo"/);
  assert.match(error.message, /no browser was opened/);
  assert.equal(opened, 0);
  assert.ok(Date.now() - started < 3000, `failed within seconds (${Date.now() - started} ms)`);
  assert.equal(tokenRequests(idp), tokens);
  assert.deepEqual(await openHandles(), handles, "the listener and its timers are gone");

  const unknown = await login({ issuer: idp.issuer, clientId: "nobody-registered-this", flow: "loopback", openBrowser: () => void opened++ }).catch(
    (e: unknown) => e,
  );
  assert.ok(unknown instanceof LoginError);
  assert.equal(unknown.code, "AUTHORIZATION_REQUEST_REJECTED");
  assert.equal(unknown.error, "invalid_client");
  assert.match(unknown.message, /Check `clientId`/);
  assert.equal(opened, 0);
});

test("a confidential client authenticates its pushed request; a wrong secret is refused before any browser", async () => {
  const idp = await parIdp();
  const ua = new ScriptedUserAgent();
  const opened: string[] = [];
  const headers = await login({
    issuer: idp.issuer,
    clientId: CONFIDENTIAL_CLIENT_ID,
    clientSecret: idp.clientSecret,
    scopes: ["openid"],
    flow: "loopback",
    openBrowser: (url) => (opened.push(url), ua.open(url)),
  });
  assert.ok(new URL(opened[0]!).searchParams.has("request_uri"));
  assert.equal((await fetch(`${idp.issuer}/api/me`, { headers })).status, 200);

  const secret = "not-the-secret-at-all-1234";
  const error = await login({
    issuer: idp.issuer,
    clientId: CONFIDENTIAL_CLIENT_ID,
    clientSecret: secret,
    flow: "loopback",
    forceLogin: true,
    openBrowser: (url) => void opened.push(url),
  }).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError);
  assert.equal(error.code, "AUTHORIZATION_REQUEST_REJECTED");
  assert.equal(error.error, "invalid_client");
  assert.match(error.message, /Basic header.*request body.*no browser was opened/);
  assert.equal(opened.length, 1, "no browser for the refused request");
  assert.ok(!JSON.stringify({ message: error.message, cause: String(error.cause) }).includes(secret));
});

test("par: true needs a server that offers PAR; without it, INVALID_CONFIG naming the option and no browser", async () => {
  const idp = await plainIdp();
  let opened = 0;
  const error = await login({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, flow: "loopback", par: true, openBrowser: () => void opened++ }).catch(
    (e: unknown) => e,
  );
  assert.ok(error instanceof LoginError);
  assert.equal(error.code, "INVALID_CONFIG");
  assert.match(error.message, /`par: true`.*pushed_authorization_request_endpoint/);
  assert.equal(opened, 0);
  const wrong = await login({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, par: "yes" as unknown as boolean }).catch((e: unknown) => e);
  assert.ok(wrong instanceof LoginError && wrong.code === "INVALID_CONFIG" && /`par` must be true or false/.test(wrong.message));
});

test("beginLogin() pushes too: its link carries only client_id and request_uri, and complete() signs in", async () => {
  const idp = await parIdp();
  const { value: pending, stderr } = await captureOutput(() =>
    beginLogin({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], openBrowser: false }),
  );
  // Nothing can push it again for a pasted sign-in: the link's own lifetime is said.
  assert.match(stderr, /Sign in at: \S+ \(open it within (5[0-9]|60) s\)/);
  const link = new URL(pending.url);
  assert.deepEqual([...link.searchParams.keys()].sort(), ["client_id", "request_uri"]);
  const ua = new ScriptedUserAgent({ login: "bob", onCallback: () => null });
  const visit = await ua.visit(pending.url);
  const headers = await pending.complete(visit.callbackUrl!.href);
  const api = await fetch(`${idp.issuer}/api/me`, { headers });
  assert.equal(((await api.json()) as { sub: string }).sub, "bob");
  assert.ok(await portIsFree(Number(visit.callbackUrl!.port)));
});

test("the cell's link opened after the pushed request expired pushes it again: the sign-in still works", async () => {
  const idp = await parIdp();
  const realNow = Date.now;
  const ua = new ScriptedUserAgent({ login: "dana" });
  for (const late of [false, true]) {
    isolateCache();
    const before = pushes(idp);
    let link: string | undefined;
    let visit: Promise<unknown> | undefined;
    let location: string | undefined;
    try {
      const { value: headers } = await captureOutput(
        () => login({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], flow: "loopback", openBrowser: false, timeout: 20 }),
        (text) => {
          link ??= /Sign in at: (\S+)/.exec(text)?.[1];
          if (link && !visit) {
            // The user opens the link after lunch: the provider's clock and ours moved on alike.
            if (late) Date.now = () => realNow() + 65_000;
            visit = (async () => {
              const launched = await request(link!);
              await launched.body.dump();
              location = String(launched.headers.location);
              return ua.visit(location);
            })();
          }
        },
      );
      assert.equal(((await (await fetch(`${idp.issuer}/api/me`, { headers })).json()) as { sub: string }).sub, "dana");
    } finally {
      Date.now = realNow;
    }
    assert.match(link!, /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{32}$/, "the link is the listener's launcher");
    assert.equal(pushes(idp) - before, late ? 2 : 1, late ? "pushed again for the late link" : "the fresh push was used as is");
    assert.deepEqual([...new URL(location!).searchParams.keys()].sort(), ["client_id", "request_uri"]);
  }
});
