// Signing in to an API given only its URL (#26): RFC 9728 discovery, RFC 7591 registration, RFC
// 8707 resource indicators, against a real oidc-provider (registration and resource indicators on:
// its tokens for the API are JWTs whose `aud` is the API) and the demo API (demo/api.js), which
// checks `aud`, the issuer's signature and a scope per route. The provider's own records (the
// parameters of every request it received) show where `resource` went.
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, beforeEach, describe, test } from "node:test";
import { startDemoApi } from "../demo/api.js";
import { startDemoIdp } from "../demo/idp.js";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beginLogin, login, logout, session, LoginError, type LoginConfig } from "../src/index.js";
import { captureOutput } from "./support/capture.js";
import { makeCertificates } from "./support/certificates.js";
import { expireSavedSignIns, isolateCache } from "./support/fixtures.js";
import { visibleText } from "./support/leaks.js";
import { startServer } from "./support/servers.js";
import { ScriptedUserAgent } from "./support/user-agent.js";
import { recordedIdp, type Seen } from "./support/recorded-idp.js";

const idp = await recordedIdp({ registration: "open", resourceIndicators: true, par: true, deviceFlow: true });
const api = await startDemoApi({ idp });
after(async () => {
  await api.close();
  await idp.close();
});
let cacheDir = "";
beforeEach(() => {
  cacheDir = isolateCache();
  idp.seen.length = 0;
  api.seen.length = 0;
});

const byUrl = (extra: Partial<LoginConfig> = {}): LoginConfig => ({
  resource: api.resource,
  flow: "loopback",
  timeout: 20,
  openBrowser: new ScriptedUserAgent().open,
  ...extra,
});
const requests = (path: string): Seen[] => idp.seen.filter((r) => r.path === path);
const noBrowser = (): never => assert.fail("no browser may open");

describe("sign in by the API's URL alone", () => {
  test("the 401's challenge names the metadata: one registration, the API's scopes, a token for the API alone, the resource on every request", async () => {
    const s = await session(byUrl());
    const res = await s.fetch(`${api.resource}/me`);
    assert.equal(res.status, 200);
    const me = (await res.json()) as { aud: string; scope: string; client_id: string };
    assert.equal(me.aud, api.resource, "the token is for this API (RFC 8707)");
    assert.match(me.scope, /\bapi:read\b/, "the scope the API's challenge asked for");
    assert.equal(requests("/reg").length, 1, "one registration");
    const registration = requests("/reg")[0]!;
    assert.equal(s.clientId, me.client_id);
    assert.equal(s.resource, api.resource);
    assert.equal(s.issuer, idp.issuer);
    // The provider's records: the resource on the pushed request (PAR), and the code exchange.
    for (const path of ["/request", "/token"]) {
      assert.ok(requests(path).length > 0, `${path} was asked`);
      for (const r of requests(path)) assert.equal(r.params.get("resource"), api.resource, `resource on ${path}`);
    }
    assert.ok(registration, "registered");
    // Saved owner-only with the sign-ins, and no secret printed by status-like views.
    const clients = join(cacheDir, "clients.json");
    assert.equal((statSync(clients).mode & 0o777).toString(8), "600");
    const saved = Object.values(JSON.parse(readFileSync(clients, "utf8")) as Record<string, { clientId: string; redirectUris: string[] }>);
    assert.deepEqual(
      saved.map((c) => c.clientId),
      [me.client_id],
    );
    assert.deepEqual(saved[0]!.redirectUris, ["http://127.0.0.1/callback", "http://[::1]/callback"], "portless loopback redirects (RFC 8252 §7.3)");
  });

  test("a second call, and a second process's worth of calls, reuse the registration and the sign-in: no discovery, no registration, no browser", async () => {
    await login(byUrl());
    idp.seen.length = 0;
    api.seen.length = 0;
    const headers = await login(byUrl({ openBrowser: noBrowser }));
    assert.match(headers.Authorization, /^Bearer /);
    assert.deepEqual(idp.seen, [], "nothing asked of the provider");
    assert.deepEqual(api.seen, [], "nothing asked of the API");
    // A new sign-in (other scopes) in the same folder: discovery again, but the same client.
    await login(byUrl({ scopes: ["api:read", "offline_access"] }));
    assert.equal(requests("/reg").length, 0, "the saved registration is reused");
  });

  test("a saved sign-in by resource refreshes with its own client and resource", async () => {
    await login(byUrl());
    assert.ok(expireSavedSignIns(cacheDir)[0]!.refreshToken, "offline_access was asked for, as the server lists it");
    idp.seen.length = 0;
    const headers = await login(byUrl({ openBrowser: noBrowser }));
    const refresh = requests("/token");
    assert.equal(refresh.length, 1);
    assert.equal(refresh[0]!.params.get("grant_type"), "refresh_token");
    assert.equal(refresh[0]!.params.get("resource"), api.resource, "resource on the refresh (RFC 8707 §2.2)");
    const res = await fetch(`${api.resource}/me`, { headers });
    assert.equal(res.status, 200);
  });

  test("the device flow and a refused client: the resource on the device request and its polls", async () => {
    const ua = new ScriptedUserAgent();
    const headers = await login(byUrl({ flow: "device", openBrowser: ua.open }));
    const res = await fetch(`${api.resource}/me`, { headers });
    assert.equal(res.status, 200);
    for (const r of [...requests("/device/auth"), ...requests("/token")]) assert.equal(r.params.get("resource"), api.resource, `resource on ${r.path}`);
  });

  test("the metadata found at the well-known address when the 401 names none, path inserted", async () => {
    const quiet = await startDemoApi({ idp, path: "/quiet", challenge: false });
    try {
      const s = await session(byUrl({ resource: quiet.resource }));
      assert.equal((await s.fetch(`${quiet.resource}/me`)).status, 200);
      assert.ok(quiet.seen.some((r) => r.path === "/.well-known/oauth-protected-resource/quiet"));
    } finally {
      await quiet.close();
    }
  });

  test("the metadata at the origin only, for the API that contains the one asked about (MCP's rule)", async () => {
    const rooted = await startDemoApi({ idp, path: "/root-api", wellKnown: "root", challenge: false });
    try {
      const s = await session(byUrl({ resource: `${rooted.resource}/projects` }));
      assert.equal((await s.fetch(`${rooted.resource}/projects`)).status, 200);
      const seen = rooted.seen.map((r) => r.path);
      assert.ok(seen.includes("/.well-known/oauth-protected-resource/root-api/projects"), "path-inserted address tried first");
      assert.ok(seen.includes("/.well-known/oauth-protected-resource"), "then the origin's");
    } finally {
      await rooted.close();
    }
  });

  test("a metadata document naming another resource is refused before any browser opens or any request reaches its server", async () => {
    const other = await startDemoApi({ idp, path: "/liar", metadataResource: "https://elsewhere.example/api" });
    try {
      const error = await login(byUrl({ resource: other.resource, openBrowser: noBrowser })).catch((e: unknown) => e);
      assert.ok(error instanceof LoginError);
      assert.equal(error.code, "DISCOVERY_FAILED");
      assert.match(error.message, /elsewhere\.example/);
      assert.match(error.message, /not for http:\/\/127\.0\.0\.1:\d+\/liar/);
      assert.deepEqual(idp.seen, [], "nothing sent to the authorization server");
    } finally {
      await other.close();
    }
  });

  test("an issuer given that the API does not name: DISCOVERY_FAILED naming both", async () => {
    const error = await login(byUrl({ issuer: "https://id.other.example", openBrowser: noBrowser })).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "DISCOVERY_FAILED");
    assert.match(error.message, new RegExp(idp.issuer.replace(/[.:/]/g, "\\$&")));
    assert.match(error.message, /id\.other\.example/);
  });

  test("extraParams.resource with an issuer and client: the resource goes on the token requests too, not only the authorization request", async () => {
    const headers = await login({
      issuer: idp.issuer,
      clientId: "tslab-demo",
      scopes: ["api:read"],
      extraParams: { resource: api.resource },
      flow: "loopback",
      openBrowser: new ScriptedUserAgent().open,
      timeout: 20,
    });
    assert.equal(requests("/token").at(-1)!.params.get("resource"), api.resource);
    assert.equal((await fetch(`${api.resource}/me`, { headers })).status, 200);
  });
});

describe("registration refused or absent: a LoginError naming clientId, no browser", () => {
  for (const [label, registration] of [
    ["no registration endpoint", undefined],
    ["registration needs an initial access token", "initial-access-token"],
  ] as const) {
    test(label, async () => {
      const closed = await startDemoIdp({ resourceIndicators: true, ...(registration ? { registration } : {}) });
      const closedApi = await startDemoApi({ idp: closed });
      try {
        const error = await login(byUrl({ resource: closedApi.resource, openBrowser: noBrowser })).catch((e: unknown) => e);
        assert.ok(error instanceof LoginError, String(error));
        assert.equal(error.code, "REGISTRATION_FAILED");
        assert.match(error.message, /`clientId`/);
        assert.match(error.message, /http:\/\/127\.0\.0\.1\/callback/, "what to register by hand");
        // Given a client registered by hand, the same API signs in.
        const headers = await login(byUrl({ resource: closedApi.resource, clientId: "tslab-demo" }));
        assert.equal((await fetch(`${closedApi.resource}/me`, { headers })).status, 200);
      } finally {
        await closedApi.close();
        await closed.close();
      }
    });
  }
});

describe("the token stays with its API", () => {
  test("another origin or another path is refused before anything is sent; a redirect out of the API arrives without the token", async () => {
    const s = await session(byUrl());
    const outside = await startServer((req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(req.headers.authorization ?? "none"));
    try {
      for (const url of [`${outside.url}/v1/me`, `${api.origin}/other`, `${api.origin}/v10/me`]) {
        const before = api.seen.length;
        const error = await s.fetch(url).catch((e: unknown) => e);
        assert.ok(error instanceof LoginError, url);
        assert.equal(error.code, "INVALID_CONFIG");
        assert.match(error.message, new RegExp(api.resource.replace(/[.:/]/g, "\\$&")));
        assert.equal(api.seen.length, before, "nothing sent");
        assert.ok(!visibleText(error).includes((await s.headers()).Authorization.slice(7)), "the token is not in the error");
      }
      // Within the API, a redirect within it keeps the token; one leaving it drops it.
      assert.equal((await s.fetch(`${api.resource}/moved`)).status, 200);
      const away = await s.fetch(`${api.resource}/away?to=${encodeURIComponent(`${outside.url}/landing`)}`);
      assert.equal(away.status, 200);
      assert.equal(await away.text(), "none", "the other origin got no token");
    } finally {
      await outside.close();
    }
  });
});

describe("step-up (RFC 6750 §3.1)", () => {
  test("a 403 insufficient_scope: one sign-in with the scope added, the cell says why, then one retry", async () => {
    const s = await session(byUrl());
    const { value: res, stderr } = await captureOutput(() => s.fetch(`${api.resource}/files`, { method: "POST", body: "{}" }));
    assert.equal(res.status, 200);
    assert.match(stderr, /asks for `files:write`/);
    // Asked again for what was granted: no new sign-in.
    const auth = requests("/auth").length;
    assert.equal((await s.fetch(`${api.resource}/files`, { method: "POST", body: "{}" })).status, 200);
    assert.equal(requests("/auth").length, auth);
  });

  test("a server that keeps asking gets one sign-in, then its 403 back, never a loop", async () => {
    const stingy = await startDemoApi({ idp, path: "/stingy" });
    // The provider knows this API without files:write: it never grants it.
    idp.addResource(stingy.resource, ["api:read"]);
    try {
      const s = await session(byUrl({ resource: stingy.resource }));
      const auth = requests("/auth").length;
      const first = await captureOutput(() => s.fetch(`${stingy.resource}/files`, { method: "POST", body: "{}" }));
      assert.equal(first.value.status, 403);
      const second = await s.fetch(`${stingy.resource}/files`, { method: "POST", body: "{}" });
      assert.equal(second.status, 403);
      const signIns = requests("/auth").filter((r) => r.params.has("client_id")).length - auth;
      assert.ok(signIns <= 2 && signIns >= 1, `one step-up sign-in (authorization requests: ${signIns})`);
      const third = requests("/auth").length;
      await s.fetch(`${stingy.resource}/files`, { method: "POST", body: "{}" });
      assert.equal(requests("/auth").length, third, "asked again: no new sign-in");
    } finally {
      await stingy.close();
    }
  });

  test("unattended (interactive: false): INTERACTION_REQUIRED naming the scope", async () => {
    await login(byUrl());
    const s = await session(byUrl({ interactive: false, openBrowser: noBrowser }));
    const error = await s.fetch(`${api.resource}/files`, { method: "POST", body: "{}" }).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "INTERACTION_REQUIRED");
    assert.match(error.message, /files:write/);
  });
});

test("a client the server forgot (invalid_client) is registered anew, once", async () => {
  await login(byUrl());
  const clients = Object.values(JSON.parse(readFileSync(join(cacheDir, "clients.json"), "utf8")) as Record<string, { clientId: string }>);
  const forgotten = clients[0]!.clientId;
  // The provider loses the client (an administrator removed it, an in-memory server restarted).
  const adapter = (idp.provider as unknown as { Client: { adapter: { destroy(id: string): Promise<void> } } }).Client.adapter;
  await adapter.destroy(forgotten);
  // Also drop the saved sign-in's refresh: it names the forgotten client.
  await logout({ resource: api.resource, revoke: false });
  const { value: headers, stderr } = await captureOutput(() => login(byUrl({ timeout: 30 })));
  const me = (await (await fetch(`${api.resource}/me`, { headers })).json()) as { client_id: string };
  assert.notEqual(me.client_id, forgotten);
  assert.match(stderr, /no longer knows the client/);
  assert.equal(requests("/reg").length, 2);
});

test("a forgotten client found at the refresh (401 invalid_client): the registration is dropped with the sign-in, and the browser signs in with a new one", async () => {
  await login(byUrl());
  const registered = () => Object.values(JSON.parse(readFileSync(join(cacheDir, "clients.json"), "utf8")) as Record<string, { clientId: string }>);
  const forgotten = registered()[0]!.clientId;
  const adapter = (idp.provider as unknown as { Client: { adapter: { destroy(id: string): Promise<void> } } }).Client.adapter;
  await adapter.destroy(forgotten);
  expireSavedSignIns(cacheDir);
  const { value: headers, stderr } = await captureOutput(() => login(byUrl()));
  assert.match(stderr, /was refused by the server \(HTTP 401, invalid_client/);
  const me = (await (await fetch(`${api.resource}/me`, { headers })).json()) as { client_id: string };
  assert.notEqual(me.client_id, forgotten);
  assert.deepEqual(
    registered().map((c) => c.clientId),
    [me.client_id],
  );
});

test("logout() of a sign-in by resource revokes with its own client", async () => {
  await login(byUrl());
  const { value: result, stderr } = await captureOutput(() => logout({ resource: api.resource }));
  assert.equal(result.removed, true);
  // oidc-provider revokes the grant through its refresh token; a JWT access token cannot be
  // revoked there (unsupported_token_type), and the user is told it lives until it expires.
  assert.deepEqual(result.revoked, ["refresh_token"]);
  assert.match(stderr, /access token was not revoked \(unsupported_token_type\)/);
  const revocations = requests("/token/revocation");
  const registered = Object.values(JSON.parse(readFileSync(join(cacheDir, "clients.json"), "utf8")) as Record<string, { clientId: string }>)[0]!;
  for (const r of revocations) assert.equal(r.params.get("client_id"), registered.clientId);
});

test("beginLogin({ resource }) and the command: the two-cell flow signs in by URL, and `tslab-oauth token --resource` prints that saved sign-in's token; status names the API and the client", async () => {
  let captured: (url: string) => void = () => {};
  const address = new Promise<string>((resolve) => (captured = resolve));
  const ua = new ScriptedUserAgent({ onCallback: (url) => (captured(url.href), null) });
  const pending = await beginLogin({ resource: api.resource, openBrowser: ua.open, timeout: 20 });
  const headers = await pending.complete(await address);
  assert.equal((await fetch(`${api.resource}/me`, { headers })).status, 200);
  const bin = fileURLToPath(new URL("../../dist/cli/bin.js", import.meta.url));
  const env = { ...process.env, TSLAB_OAUTH_CACHE_DIR: cacheDir, TSLAB_OAUTH_INTERACTIVE: "0" };
  const { stdout } = await promisify(execFile)(process.execPath, [bin, "token", "--resource", api.resource], { env });
  assert.equal(stdout.trim(), headers.Authorization.slice("Bearer ".length), "the same saved sign-in, no browser");
  const status = await promisify(execFile)(process.execPath, [bin, "status"], { env });
  assert.match(status.stdout, new RegExp(`for ${api.resource.replace(/[.:/]/g, "\\$&")}`));
  assert.match(status.stdout, /registered client \S+ at http:\/\/127\.0\.0\.1:\d+ on \d{4}-\d\d-\d\d/);
  assert.ok(!status.stdout.includes(headers.Authorization.slice(7)));
});

test("a Client ID Metadata Document as `clientId` passes through as it is: no registration, the server fetches the document and signs in that client", async (t) => {
  const certs = makeCertificates();
  const documents = createHttpsServer({ key: certs.key, cert: certs.cert });
  let fetched = 0;
  await new Promise<void>((resolve) => documents.listen(0, "127.0.0.1", resolve));
  const clientId = `https://127.0.0.1:${(documents.address() as AddressInfo).port}/tslab-oauth.json`;
  documents.on("request", (_req, res) => {
    fetched++;
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "max-age=60" });
    res.end(
      JSON.stringify({
        client_id: clientId,
        client_name: "tslab-oauth (Client ID Metadata Document)",
        application_type: "native",
        redirect_uris: ["http://127.0.0.1/callback", "http://[::1]/callback"],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
      }),
    );
  });
  const cimd = await recordedIdp({ resourceIndicators: true, clientIdMetadataDocuments: { ca: certs.ca } });
  const cimdApi = await startDemoApi({ idp: cimd });
  t.after(async () => {
    await cimdApi.close();
    await cimd.close();
    documents.close();
  });
  const headers = await login({ ...byUrl(), resource: cimdApi.resource, clientId });
  const me = (await (await fetch(`${cimdApi.resource}/me`, { headers })).json()) as { aud: string; client_id: string };
  assert.equal(me.client_id, clientId, "the token was issued to the document's client");
  assert.equal(me.aud, cimdApi.resource);
  assert.ok(fetched >= 1, "the server fetched the document");
  assert.equal(cimd.seen.filter((r) => r.path === "/reg").length, 0, "no registration");
  const authorizations = cimd.seen.filter((r) => r.path === "/auth");
  assert.ok(authorizations.length > 0 && authorizations.every((r) => r.params.get("client_id") === clientId), "the URL is the client_id of the sign-in");
});
