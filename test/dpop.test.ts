// DPoP (RFC 9449) against a real oidc-provider, whose /api/me verifies proofs (demo/idp.js): tokens
// bound to the sign-in's key, useless without it, across a process restart, with nonces.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, beforeEach, test } from "node:test";
import { inspect, promisify } from "node:util";
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify } from "jose";
import { request } from "undici";
import { DEMO_CLIENT_ID, SERVICE_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { beginLogin, login, logout, session, LoginError, type LoginConfig } from "../src/index.js";
import { createDpopKey } from "../src/protocol/dpop.js";
import { captureOutput } from "./support/capture.js";
import { isolateCache, type DemoIdp } from "./support/fixtures.js";
import { assertNoSecret, visibleText } from "./support/leaks.js";
import { startServer } from "./support/servers.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const servers = new Map<string, Promise<DemoIdp>>();
/** One provider per kind: DPoP as oidc-provider ships it, with nonces (and PAR), without DPoP. */
function idpOf(kind: "dpop" | "nonce" | "none"): Promise<DemoIdp> {
  let idp = servers.get(kind);
  if (!idp) {
    // The nonce server also offers PAR and the device flow (with a 1 s polling interval).
    idp = startDemoIdp(kind === "nonce" ? { dpopNonce: true, par: true, deviceFlow: true, deviceInterval: 1 } : kind === "none" ? { dpop: false } : {});
    servers.set(kind, idp);
  }
  return idp;
}
after(async () => {
  for (const idp of servers.values()) await (await idp).close();
});
let cacheDir = "";
beforeEach(() => {
  cacheDir = isolateCache();
});

interface SavedEntry {
  clientId: string;
  accessToken: string;
  refreshToken?: string;
  tokenType: string;
  expiresAt?: number;
  obtainedAt: number;
  dpopKey?: { kty: string; crv: string; x: string; y: string; d: string };
}
const cacheFile = (): string => join(cacheDir, "tokens.json");
const entries = (): SavedEntry[] => Object.values(JSON.parse(readFileSync(cacheFile(), "utf8")) as Record<string, SavedEntry>);
const tokenRequests = (idp: DemoIdp): number => idp.counts.get("/token") ?? 0;
const thumbprint = (key: { kty: string; crv: string; x: string; y: string }): Promise<string> =>
  calculateJwkThumbprint({ kty: key.kty, crv: key.crv, x: key.x, y: key.y });

function config(idp: DemoIdp, extra: Partial<LoginConfig> = {}): LoginConfig {
  return { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid", "profile"], flow: "loopback", dpop: true, ...extra };
}

/** The API called by hand with the given Authorization and DPoP headers. */
async function callApi(idp: DemoIdp, headers: Record<string, string>): Promise<number> {
  const res = await request(`${idp.issuer}/api/me`, { headers });
  await res.body.dump();
  return res.statusCode;
}

test("a proof as RFC 9449 §4.2 says: dpop+jwt, ES256, the public key only, htm, htu without query, iat, jti, ath; thumbprint per RFC 7638", async () => {
  const key = await createDpopKey({ client_id: "app" });
  const proof = await key.proof("post", new URL("https://api.example.com/v1/items?page=2#top"), "the-access-token");
  const header = decodeProtectedHeader(proof);
  assert.deepEqual(Object.keys(header.jwk!).sort(), ["crv", "kty", "x", "y"], "no private part in the proof");
  const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: "dpop+jwt", algorithms: ["ES256"] });
  assert.equal(protectedHeader.alg, "ES256");
  assert.equal(payload.htm, "POST");
  assert.equal(payload.htu, "https://api.example.com/v1/items");
  assert.ok(Math.abs((payload.iat as number) - Date.now() / 1000) < 5);
  assert.equal(payload.ath, createHash("sha256").update("the-access-token").digest("base64url"));
  assert.equal(payload.nonce, undefined);
  const second = await jwtVerify(await key.proof("POST", new URL("https://api.example.com/v1/items"), "the-access-token"), EmbeddedJWK);
  assert.notEqual(second.payload.jti, payload.jti, "a fresh jti for each proof");
  assert.equal(key.thumbprint, await thumbprint(key.jwk));
  assert.equal(key.thumbprint, await key.handle.calculateThumbprint(), "oauth4webapi's handle signs with the same key");
  assert.doesNotMatch(inspect(key) + JSON.stringify(key), new RegExp(key.jwk.d));
});

test("session({ dpop: true }): the token is bound to the saved key, and session().fetch sends a proof the API accepts", async () => {
  const idp = await idpOf("dpop");
  const ua = new ScriptedUserAgent({ login: "alice" });
  const api = await session(config(idp, { openBrowser: ua.open }));
  const res = await api.fetch(`${idp.issuer}/api/me`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { sub: string; jkt: string };
  assert.equal(body.sub, "alice");

  const [entry] = entries();
  assert.equal(entry!.tokenType, "DPoP");
  assert.ok(entry!.dpopKey, "the key is saved with the tokens");
  const jkt = await thumbprint(entry!.dpopKey!);
  assert.equal(body.jkt, jkt, "the API saw a token bound to the saved key");
  const atServer = await idp.provider.AccessToken.find(entry!.accessToken);
  assert.equal(atServer?.jkt, jkt, "oidc-provider bound the access token (cnf.jkt)");
  const refreshAtServer = await idp.provider.RefreshToken.find(entry!.refreshToken!);
  assert.equal(refreshAtServer?.jkt, jkt, "and the refresh token (a public client's, RFC 9449 §5)");
  assert.equal((statSync(cacheFile()).mode & 0o777).toString(8), "600", "the key's file is the owner's only");
});

test("a copied DPoP token is useless: refused as Bearer, with another key's proof, and with a replayed proof", async () => {
  const idp = await idpOf("dpop");
  const api = await session(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  const { accessToken } = entries()[0]!;
  const url = `${idp.issuer}/api/me`;

  assert.equal(await callApi(idp, { authorization: `Bearer ${accessToken}` }), 401);
  assert.equal(idp.apiRefusals.at(-1), "a DPoP-bound token sent as a Bearer token");

  const thief = await createDpopKey({ client_id: DEMO_CLIENT_ID });
  const forged = await thief.proof("GET", new URL(url), accessToken);
  assert.equal(await callApi(idp, { authorization: `DPoP ${accessToken}`, dpop: forged }), 401);
  assert.equal(idp.apiRefusals.at(-1), "proof signed by another key than the token's");

  // headers(method, url): one request's headers, for another HTTP client.
  const headers = await api.headers("GET", url);
  assert.deepEqual(Object.keys(headers).sort(), ["Authorization", "DPoP"]);
  assert.match(headers.Authorization, /^DPoP /);
  const plain = { ...headers } as Record<string, string>;
  assert.equal(await callApi(idp, plain), 200);
  assert.equal(await callApi(idp, plain), 401, "a proof works once");
  assert.equal(idp.apiRefusals.at(-1), "jti replayed");
  const post = await api.headers("POST", url);
  assert.equal(await callApi(idp, post as unknown as Record<string, string>), 401, "a proof for another method");
  assert.equal(idp.apiRefusals.at(-1), "htm mismatch");

  const noArgs = await api.headers().catch((e: unknown) => e);
  assert.ok(noArgs instanceof LoginError && noArgs.code === "INVALID_CONFIG" && /headers\("GET"/.test(noArgs.message));
});

test("a new process refreshes the DPoP sign-in with the saved key: the new token is bound to the same key", async () => {
  const idp = await idpOf("dpop");
  await session(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  const [first] = entries();
  const jkt = await thumbprint(first!.dpopKey!);
  // An hour later: the access token has expired.
  const data = JSON.parse(readFileSync(cacheFile(), "utf8")) as Record<string, SavedEntry>;
  for (const entry of Object.values(data)) Object.assign(entry, { obtainedAt: Date.now() - 3_600_000, expiresAt: Date.now() - 1000 });
  writeFileSync(cacheFile(), JSON.stringify(data), { mode: 0o600 });
  const tokens = tokenRequests(idp);

  const script = new URL("./support/session-child.js", import.meta.url).pathname;
  const { issuer, clientId, scopes } = config(idp);
  const arg = JSON.stringify({ issuer, clientId, scopes, dpop: true, api: `${idp.issuer}/api/me` });
  const { stdout } = await promisify(execFile)(process.execPath, [script, arg], { env: process.env });
  const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as { status?: number; body?: { jkt: string }; token?: string; error?: string; message?: string };
  assert.equal(result.status, 200, stdout);
  assert.equal(result.body!.jkt, jkt, "the refreshed token is bound to the same key");
  assert.notEqual(result.token, createHash("sha256").update(first!.accessToken).digest("hex").slice(0, 16), "a new access token");
  assert.equal(tokenRequests(idp) - tokens, 1, "one refresh request");
  const [second] = entries();
  assert.deepEqual(second!.dpopKey, first!.dpopKey, "the saved key is kept");
  assert.equal((await idp.provider.AccessToken.find(second!.accessToken))?.jkt, jkt);
});

test("server nonces (RFC 9449 §8, §9): the token endpoint's and the API's use_dpop_nonce are answered once each", async () => {
  const idp = await idpOf("nonce");
  const tokens = tokenRequests(idp);
  const pushes = idp.counts.get("/request") ?? 0;
  const opened: string[] = [];
  const ua = new ScriptedUserAgent({ login: "carol" });
  const api = await session(config(idp, { openBrowser: (url) => (opened.push(url), ua.open(url)) }));
  // PAR too: the pushed request carried a proof (binding the code to the key) after its own nonce round.
  assert.deepEqual([...new URL(opened[0]!).searchParams.keys()].sort(), ["client_id", "request_uri"]);
  assert.equal((idp.counts.get("/request") ?? 0) - pushes, 2, "the PAR endpoint asked for its nonce once");
  assert.equal(tokenRequests(idp) - tokens, 1, "the token endpoint took the nonce learned at the PAR endpoint (same origin)");

  const refusals = idp.apiRefusals.length;
  const res = await api.fetch(`${idp.issuer}/api/me`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { sub: string }).sub, "carol");
  assert.deepEqual(idp.apiRefusals.slice(refusals), ["nonce"], "one use_dpop_nonce round at the API");
  const again = await api.fetch(`${idp.issuer}/api/me`);
  await again.body?.cancel();
  assert.equal(again.status, 200);
  assert.deepEqual(idp.apiRefusals.slice(refusals), ["nonce"], "the nonce the API gave is used next time");

  // Without PAR, the token endpoint's own use_dpop_nonce round: one retry with the nonce it gave.
  const before = tokenRequests(idp);
  const fresh = await session(config(idp, { par: false, forceLogin: true, openBrowser: new ScriptedUserAgent({ login: "carol" }).open }));
  assert.ok(fresh);
  assert.equal(tokenRequests(idp) - before, 2, "the code exchange asked for the nonce once");
});

test("the device flow and a service account get DPoP-bound tokens too, nonces included", async () => {
  const idp = await idpOf("nonce");
  const device = await session(config(idp, { flow: "device", openBrowser: new ScriptedUserAgent({ login: "erin" }).open }));
  const seen = await device.fetch(`${idp.issuer}/api/me`);
  const body = (await seen.json()) as { sub: string; jkt: string };
  assert.equal(body.sub, "erin");
  assert.equal(body.jkt, await thumbprint(entries().find((e) => e.clientId === DEMO_CLIENT_ID)!.dpopKey!));

  const service = await session({
    issuer: idp.issuer,
    clientId: SERVICE_CLIENT_ID,
    clientSecret: idp.clientSecret,
    scopes: ["api"],
    grant: "client_credentials",
    dpop: true,
  });
  const answer = await service.fetch(`${idp.issuer}/api/me`);
  assert.equal(answer.status, 200);
  const serviceEntry = entries().find((e) => e.clientId === SERVICE_CLIENT_ID)!;
  assert.equal(((await answer.json()) as { jkt: string }).jkt, await thumbprint(serviceEntry.dpopKey!));
  assert.equal(await callApi(idp, { authorization: `Bearer ${serviceEntry.accessToken}` }), 401, "a service token is bound too");
});

test("an API that keeps asking for a new nonce, or sends a nonce that is not one: bounded retries, nothing odd in the proofs", async () => {
  const idp = await idpOf("dpop");
  const api = await session(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  const seen: { nonce: unknown; auth: string | undefined }[] = [];
  let answer: (n: number) => Record<string, string> = () => ({});
  const server = await startServer((req, res) => {
    const proof = String(req.headers.dpop ?? "");
    seen.push({
      nonce: JSON.parse(Buffer.from(proof.split(".")[1] ?? "", "base64url").toString() || "{}").nonce,
      auth: req.headers.authorization?.split(" ")[0],
    });
    res.writeHead(401, { "WWW-Authenticate": 'DPoP error="use_dpop_nonce"', ...answer(seen.length) }).end();
  });
  try {
    // A new nonce every time: the request, once more with the nonce, then a renewed token once. No loop.
    answer = (n) => ({ "DPoP-Nonce": `nonce-${n}` });
    const tokens = tokenRequests(idp);
    const res = await api.fetch(`${server.url}/data`);
    assert.equal(res.status, 401);
    assert.deepEqual(
      seen.map((s) => s.nonce),
      [undefined, "nonce-1", "nonce-2"],
    );
    assert.ok(seen.every((s) => s.auth === "DPoP"));
    assert.equal(tokenRequests(idp) - tokens, 1, "one refresh for the last 401");

    // Nonces that are not nonces (RFC 9449 §8.1) are not put into proofs, and do not cause a retry.
    for (const bad of ["has space", 'quote"d', "x".repeat(1001)]) {
      seen.length = 0;
      answer = () => ({ "DPoP-Nonce": bad });
      const before = tokenRequests(idp);
      await (await api.fetch(`${server.url}/data`)).body?.cancel();
      assert.ok(
        seen.every((s) => s.nonce === "nonce-3" || s.nonce === "nonce-2" || s.nonce === undefined),
        JSON.stringify(seen.map((s) => String(s.nonce).slice(0, 20))),
      );
      assert.equal(seen.length, 2, "no nonce retry; one renewal");
      assert.equal(tokenRequests(idp) - before, 1);
    }
  } finally {
    await server.close();
  }
});

test("a saved DPoP key that was damaged or edited: the sign-in is removed with a notice and done again in the browser, never a raw crypto error", async () => {
  const idp = await idpOf("dpop");
  await session(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  for (const [what, damage] of [
    ["a private part that is not one", (key: NonNullable<SavedEntry["dpopKey"]>) => (key.d = "AAAA")],
    ["a public point off the curve", (key: NonNullable<SavedEntry["dpopKey"]>) => (key.x = key.y)],
  ] as const) {
    const data = JSON.parse(readFileSync(cacheFile(), "utf8")) as Record<string, SavedEntry>;
    for (const entry of Object.values(data)) damage(entry.dpopKey!);
    writeFileSync(cacheFile(), JSON.stringify(data), { mode: 0o600 });
    let opened = 0;
    const ua = new ScriptedUserAgent();
    const { value: api, stderr } = await captureOutput(() => session(config(idp, { openBrowser: (url) => (opened++, ua.open(url)) })));
    assert.equal(opened, 1, `${what}: signed in again`);
    assert.match(stderr, /has a DPoP key that cannot be used .* removed and you need to sign in again/, what);
    const res = await api.fetch(`${idp.issuer}/api/me`);
    assert.equal(res.status, 200, what);
    assert.equal(((await res.json()) as { jkt: string }).jkt, await thumbprint(entries()[0]!.dpopKey!), `${what}: a new key, saved`);
  }
});

test("redirects: each hop gets a proof of its own (method and URL), as fetch would change them; credentials never follow to another origin", async () => {
  const idp = await idpOf("dpop");
  const api = await session(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  const refusals = idp.apiRefusals.length;
  for (const status of [301, 302, 303, 307, 308]) {
    for (const method of ["GET", "POST"]) {
      const res = await api.fetch(`${idp.issuer}/api/moved/${status}`, {
        method,
        body: method === "POST" ? "x=1" : undefined,
        headers: method === "POST" ? { "content-type": "application/x-www-form-urlencoded" } : {},
      });
      assert.equal(res.status, 200, `${method} through a ${status}`);
      assert.equal(new URL(res.url).pathname, "/api/me");
      await res.body?.cancel();
    }
  }
  assert.deepEqual(idp.apiRefusals.slice(refusals), [], "no proof was refused");
  // Without the hop's own proof (fetch following the redirect with the first one), the API refuses.
  const manual = await api.fetch(`${idp.issuer}/api/moved/307`, { redirect: "manual" });
  assert.equal(manual.status, 307, "redirect: manual is respected");
  await manual.body?.cancel();

  let seen: string | undefined;
  const other = await startServer((req, res) => {
    seen = req.headers.authorization?.split(" ")[0];
    res.writeHead(307, { location: `${idp.issuer}/api/me` }).end();
  });
  try {
    const before = idp.apiRefusals.length;
    const res = await api.fetch(`${other.url}/start`);
    await res.body?.cancel();
    assert.equal(seen, "DPoP", "the origin asked for gets the credentials");
    assert.equal(res.status, 401, "another origin reached by a redirect does not");
    assert.equal(idp.apiRefusals[before], "unknown or expired token", "no token was sent to it");
  } finally {
    await other.close();
  }
});

test("login() and beginLogin() refuse dpop with INVALID_CONFIG pointing at session(): never a Bearer fallback", async () => {
  const idp = await idpOf("dpop");
  const requests = idp.requestCount();
  let opened = 0;
  for (const call of [login, beginLogin] as const) {
    const error = await call(config(idp, { openBrowser: () => void opened++ })).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError, String(error));
    assert.equal(error.code, "INVALID_CONFIG");
    assert.match(error.message, /`dpop: true`.*session\(\{ \.\.\., dpop: true \}\)/);
  }
  assert.equal(opened, 0);
  assert.equal(idp.requestCount(), requests, "no request at all");
  const bad = await session(config(idp, { dpop: "yes" as unknown as boolean })).catch((e: unknown) => e);
  assert.ok(bad instanceof LoginError && /`dpop` must be true or false/.test(bad.message));
});

test("a server that does not advertise DPoP: INVALID_CONFIG naming DPoP, before any browser or token request", async () => {
  const idp = await idpOf("none");
  const tokens = tokenRequests(idp);
  let opened = 0;
  const error = await session(config(idp, { openBrowser: () => void opened++ })).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError);
  assert.equal(error.code, "INVALID_CONFIG");
  assert.match(error.message, /does not advertise DPoP.*dpop_signing_alg_values_supported/);
  assert.equal(opened, 0);
  assert.equal(tokenRequests(idp), tokens);
  const service = await session({
    issuer: idp.issuer,
    clientId: SERVICE_CLIENT_ID,
    clientSecret: idp.clientSecret,
    grant: "client_credentials",
    dpop: true,
  }).catch((e: unknown) => e);
  assert.ok(service instanceof LoginError && service.code === "INVALID_CONFIG");
  assert.equal(tokenRequests(idp), tokens);
});

test("DPoP and Bearer sign-ins are kept apart; the key never shows; logout() removes it with the tokens", async () => {
  const idp = await idpOf("dpop");
  const base = { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], flow: "loopback" as const };
  const bearer = await login({ ...base, openBrowser: new ScriptedUserAgent().open });
  let opened = 0;
  const ua = new ScriptedUserAgent();
  const printed = await captureOutput(async () => {
    const api = await session({ ...base, dpop: true, openBrowser: (url) => (opened++, ua.open(url)) });
    console.log(api, await api.headers("GET", `${idp.issuer}/api/me`));
    return api;
  });
  assert.equal(opened, 1, "the Bearer sign-in is not handed out for a DPoP session");
  const saved = entries();
  assert.deepEqual(saved.map((e) => e.tokenType).sort(), ["Bearer", "DPoP"]);
  const key = saved.find((e) => e.dpopKey)!.dpopKey!;
  const api = printed.value;
  const shown = [printed.stdout, printed.stderr, inspect(api), JSON.stringify(api), visibleText(api)].join("\n");
  assertNoSecret(shown, [key.d, saved.find((e) => e.dpopKey)!.accessToken]);
  assert.match(inspect(api), /dpop: true/);
  assert.match(printed.stdout, /DpopHeaders \{ Authorization: 'DPoP \[redacted\]', DPoP: '\[redacted\]' \}/);

  // Bearer still works for login() with the same options minus dpop.
  assert.equal(await callApi(idp, { authorization: bearer.Authorization }), 200);
  const result = await logout({ ...base, dpop: true });
  assert.equal(result.removed, true);
  assert.deepEqual(result.revoked, ["refresh_token", "access_token"]);
  const left = entries();
  assert.deepEqual(
    left.map((e) => e.tokenType),
    ["Bearer"],
  );
  assert.ok(!readFileSync(cacheFile(), "utf8").includes(key.d), "the key is gone from the file");
});

test("the command: status marks a DPoP sign-in; token refuses it (a token alone is useless); logout --dpop signs it out", async () => {
  const idp = await idpOf("dpop");
  await session(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  const { d } = entries()[0]!.dpopKey!;
  const bin = fileURLToPath(new URL("../../dist/cli/bin.js", import.meta.url));
  // Asynchronous: the provider answers from this process.
  const run = (...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
    new Promise((resolve) =>
      execFile(process.execPath, [bin, ...args], { env: { ...process.env, TSLAB_OAUTH_CACHE_DIR: cacheDir } }, (error, stdout, stderr) =>
        resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      ),
    );
  const selection = ["--issuer", idp.issuer, "--client-id", DEMO_CLIENT_ID, "--scope", "openid profile"];

  const status = await run("status");
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /DPoP-bound/);
  const token = await run("token", ...selection, "--dpop");
  assert.notEqual(token.status, 0);
  assert.equal(token.stdout, "", "nothing on stdout");
  assert.match(token.stderr, /INVALID_CONFIG.*DPoP-bound.*session\(\)/s);
  for (const out of [status, token]) assertNoSecret(out.stdout + out.stderr, [d, entries()[0]!.accessToken, entries()[0]!.refreshToken]);

  const out = await run("logout", ...selection, "--dpop");
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stdout, /Signed out: removed the saved sign-in; revoked the refresh token and the access token/);
  assert.deepEqual(entries(), []);
});
