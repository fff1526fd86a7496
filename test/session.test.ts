// session(): the object a notebook keeps for an API, against a real oidc-provider: fetch() adds the
// token and recovers from a 401 once, headers() refreshes a token that expired (with a 2-second
// token lifetime: the server counts whole seconds, so a 1-second token may live only a few
// milliseconds), overlapping callers share one refresh, printing it shows no token.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, beforeEach, test } from "node:test";
import { inspect } from "node:util";
import { request } from "undici";
import { DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { session, type LoginConfig } from "../src/index.js";
import { closeDemoIdp, demoIdp, isolateCache, type DemoIdp } from "./support/fixtures.js";
import { assertNoSecret } from "./support/leaks.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

after(closeDemoIdp);
let cacheDir = "";
beforeEach(() => {
  cacheDir = isolateCache();
});

const cacheFile = (): string => join(cacheDir, "tokens.json");
const readEntries = (): { accessToken: string }[] => Object.values(JSON.parse(readFileSync(cacheFile(), "utf8")) as Record<string, { accessToken: string }>);
const tokenRequests = (idp: DemoIdp): number => idp.counts.get("/token") ?? 0;
const config = (idp: DemoIdp, extra: Partial<LoginConfig> = {}): LoginConfig => ({
  issuer: idp.issuer,
  clientId: DEMO_CLIENT_ID,
  scopes: ["openid", "profile"],
  ...extra,
});

async function api(idp: DemoIdp, token: string): Promise<number> {
  const res = await request(`${idp.issuer}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  await res.body.dump();
  return res.statusCode;
}

/** The API stops accepting one access token while its grant stays (done in the provider itself). */
async function dropAccessToken(idp: DemoIdp, token: string): Promise<void> {
  const found = await idp.provider.AccessToken.find(token);
  assert.ok(found, "the access token exists at the server");
  await found.destroy();
}

test("session(): fetch() adds the token and, on a 401, refreshes once and retries (replayable bodies only)", async () => {
  const idp = await demoIdp();
  const api1 = await session(config(idp, { openBrowser: new ScriptedUserAgent({ login: "frank" }).open }));
  let res = await api1.fetch(`${idp.issuer}/api/me`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { sub: string }).sub, "frank");

  // The API stops accepting the token (revoked, or expired early): one refresh, one retry.
  await dropAccessToken(idp, readEntries()[0]!.accessToken);
  let calls = tokenRequests(idp);
  res = await api1.fetch(`${idp.issuer}/api/me`, { method: "GET", headers: { accept: "application/json" } });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(tokenRequests(idp), calls + 1);

  // A body that cannot be sent twice: the 401 comes back as is, no refresh.
  await dropAccessToken(idp, readEntries()[0]!.accessToken);
  calls = tokenRequests(idp);
  const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("{}")), c.close()) });
  res = await api1.fetch(`${idp.issuer}/api/me`, { method: "POST", body: stream, duplex: "half" } as Parameters<typeof api1.fetch>[1]);
  assert.equal(res.status, 401);
  await res.body?.cancel();
  assert.equal(tokenRequests(idp), calls);

  // Printing a session shows no token.
  for (const text of [inspect(api1), JSON.stringify(api1), String(await api1.headers())])
    assertNoSecret(
      text,
      readEntries().map((e) => e.accessToken),
    );
});

test("session() with a 2-second token: headers() refreshes when it expires, five callers share one refresh", async () => {
  const idp = await startDemoIdp({ accessTokenTtl: 2 });
  try {
    const s = await session(config(idp, { cache: false, openBrowser: new ScriptedUserAgent().open }));
    const first = await s.headers();
    await new Promise((resolve) => setTimeout(resolve, 2100));
    assert.equal(await api(idp, first.Authorization.slice(7)), 401);
    const calls = tokenRequests(idp);
    const all = await Promise.all(Array.from({ length: 5 }, () => s.headers()));
    assert.equal(tokenRequests(idp), calls + 1, "one shared refresh");
    assert.equal(new Set(all.map((h) => h.Authorization)).size, 1);
    assert.notEqual(all[0]!.Authorization, first.Authorization);
    assert.equal(await api(idp, all[0]!.Authorization.slice(7)), 200);
    assert.ok(!existsSync(cacheFile()), "cache: false wrote nothing");
    const out = await s.logout();
    assert.deepEqual(out.revoked, ["refresh_token", "access_token"]);
  } finally {
    await idp.close();
  }
});

test("a session keeps its user while its token lasts, and says so when the saved sign-in became another user's (#27)", async () => {
  const idp = await startDemoIdp({ accessTokenTtl: 2 });
  try {
    const s = await session(config(idp, { openBrowser: new ScriptedUserAgent({ login: "alice" }).open, quiet: true }));
    const who = async (): Promise<string> => {
      const res = await s.fetch(`${idp.issuer}/api/me`);
      return ((await res.json()) as { sub: string }).sub;
    };
    assert.equal(await who(), "alice");
    // Another cell signs in as bob with the same options.
    const { login } = await import("../src/index.js");
    await login(config(idp, { forceLogin: true, openBrowser: new ScriptedUserAgent({ login: "bob" }).open, quiet: true }));
    assert.equal(await who(), "alice", "the session keeps its user while its token lasts");
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const { value, stderr } = await (await import("./support/capture.js")).captureOutput(who);
    assert.equal(value, "bob");
    assert.match(stderr, /This session was signed in as alice; the saved sign-in for its options is now bob's/);
  } finally {
    await idp.close();
  }
});
