// The token cache, silent refresh and logout (sessions: session.test.ts), against a real oidc-provider. Time passing
// is simulated where noted by moving a cached token's expiry into the past in the cache file (the
// server's own expiry is exercised with a 2-second token lifetime: the server counts whole seconds, so a
// 1-second token may live only a few milliseconds).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, test } from "node:test";
import { request } from "undici";
import { DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, logout, LoginError, type LoginConfig } from "../src/index.js";
import { closeDemoIdp, demoIdp, isolateCache, type DemoIdp } from "./support/fixtures.js";
import { captureOutput } from "./support/capture.js";
import { assertNoSecret, openHandles, visibleText } from "./support/leaks.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

after(closeDemoIdp);
let cacheDir = "";
beforeEach(() => {
  cacheDir = isolateCache();
});

type Entry = { accessToken: string; refreshToken?: string; expiresAt?: number; obtainedAt: number; sub?: string; name?: string; metadata: { issuer: string } };

function cacheFile(dir = cacheDir): string {
  return join(dir, "tokens.json");
}
function readEntries(dir = cacheDir): Entry[] {
  return Object.values(JSON.parse(readFileSync(cacheFile(dir), "utf8")) as Record<string, Entry>);
}
/** Moves every cached token's expiry into the past: what an hour of the notebook doing other things does. */
function expireAll(dir = cacheDir): void {
  const data = JSON.parse(readFileSync(cacheFile(dir), "utf8")) as Record<string, Entry>;
  for (const entry of Object.values(data)) {
    entry.obtainedAt = Date.now() - 3_600_000;
    entry.expiresAt = Date.now() - 1000;
  }
  writeFileSync(cacheFile(dir), JSON.stringify(data));
}
const tokenRequests = (idp: DemoIdp): number => idp.counts.get("/token") ?? 0;
const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function api(idp: DemoIdp, token: string): Promise<number> {
  const res = await request(`${idp.issuer}/api/me`, { headers: bearer(token) });
  await res.body.dump();
  return res.statusCode;
}

/** A refresh request made by hand, as an uncoordinated second client would. */
async function rawRefresh(idp: DemoIdp, refreshToken: string): Promise<{ status: number; error?: string; access_token?: string; refresh_token?: string }> {
  const res = await request(`${idp.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: DEMO_CLIENT_ID }).toString(),
  });
  return { status: res.statusCode, ...((await res.body.json()) as object) };
}

async function revokeAtServer(idp: DemoIdp, token: string): Promise<void> {
  const res = await request(`${idp.issuer}/token/revocation`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, client_id: DEMO_CLIENT_ID }).toString(),
  });
  await res.body.dump();
  assert.equal(res.statusCode, 200);
}

function config(idp: DemoIdp, extra: Partial<LoginConfig> = {}): LoginConfig {
  return { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid", "profile"], ...extra };
}

/** A login that must not need the browser. */
function noBrowser(): { open: (url: string) => void; opened: () => number } {
  let count = 0;
  return {
    open: () => {
      count++;
      throw new Error("a browser was opened");
    },
    opened: () => count,
  };
}

test("a second login() is served from the cache: no request, no browser, the same working token", async () => {
  const idp = await demoIdp();
  const ua = new ScriptedUserAgent({ login: "alice" });
  const first = await login(config(idp, { openBrowser: ua.open }));
  const requests = idp.requestCount();
  const browser = noBrowser();
  const before = await openHandles();
  const second = await login(config(idp, { openBrowser: browser.open }));

  assert.equal(idp.requestCount(), requests, "the warm login made a request");
  assert.equal(browser.opened(), 0);
  assert.equal(second.Authorization, first.Authorization);
  assert.equal(await api(idp, second.Authorization.slice(7)), 200);
  assert.deepEqual(await openHandles(), before);

  // What the entry holds, and how it is protected.
  const [entry] = readEntries();
  assert.equal(entry!.sub, "alice");
  assert.equal(entry!.name, "alice");
  assert.equal(entry!.metadata.issuer, idp.issuer);
  assert.ok(entry!.refreshToken);
  assert.equal(mode(cacheFile()), "600");
  assert.deepEqual(readdirSync(cacheDir), ["tokens.json"], "no lock or temp file left behind");
});

test("the cache key: other scopes, another profile, or cache: false never reuse an entry; forceLogin asks for the login page", async () => {
  const idp = await demoIdp();
  await login(config(idp, { openBrowser: new ScriptedUserAgent({ login: "alice" }).open }));
  for (const extra of [{ scopes: ["openid"] }, { profile: "second-account" }, { extraParams: { audience: "x" } }, { cache: false }] as Partial<LoginConfig>[]) {
    const ua = new ScriptedUserAgent({ login: "bob" });
    await login(config(idp, { ...extra, openBrowser: ua.open }));
    assert.ok(ua.last, `${JSON.stringify(extra)} was served from another entry's cache`);
  }
  // The UI-only parameters are not part of the key: same entry.
  await login(config(idp, { extraParams: { login_hint: "alice" }, openBrowser: noBrowser().open }));
  assert.equal(readEntries().length, 4, "one entry per scopes/profile/audience; none for cache: false");

  const ua = new ScriptedUserAgent({ login: "dave" });
  await login(config(idp, { forceLogin: true, openBrowser: ua.open }));
  const visit = await ua.last!;
  assert.equal(new URL(visit.visited[0]!).searchParams.get("prompt"), "login");
  const entries = readEntries().filter((e) => e.name === "dave");
  assert.equal(entries.length, 1, "forceLogin replaced the entry with the new sign-in");
});

test("the default location is the user's config directory, owner-only, never the working directory", async () => {
  const idp = await demoIdp();
  const home = mkdtempSync(join(tmpdir(), "tslab-oauth-home-"));
  const work = mkdtempSync(join(tmpdir(), "tslab-oauth-cwd-"));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: join(home, ".config") };
    delete env.TSLAB_OAUTH_CACHE_DIR;
    const [result] = await runChildren(1, config(idp), { env, cwd: work, interactive: true });
    assert.equal(result!.status, 200, JSON.stringify(result));
    const dir = join(home, ".config", "tslab-oauth");
    assert.equal(mode(dir), "700");
    assert.equal(mode(join(dir, "tokens.json")), "600");
    assert.deepEqual(readdirSync(work), []);
  } finally {
    rmSync(home, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
  // A relative cacheDir would put tokens next to the notebook: refused.
  await assert.rejects(login(config(idp, { cacheDir: "tokens" })), (e: LoginError) => e.code === "INVALID_CONFIG" && /absolute/.test(e.message));
});

test("an expired token is refreshed silently: the server sees the refresh, the rotated refresh token is saved, the new token works", async () => {
  const idp = await startDemoIdp({ accessTokenTtl: 2 });
  try {
    await login(config(idp, { openBrowser: new ScriptedUserAgent().open }));
    const [before] = readEntries();
    await new Promise((resolve) => setTimeout(resolve, 2100));
    assert.equal(await api(idp, before!.accessToken), 401, "the server expired the first token");

    const tokenCalls = tokenRequests(idp);
    const browser = noBrowser();
    const headers = await login(config(idp, { openBrowser: browser.open }));
    assert.equal(browser.opened(), 0);
    assert.equal(tokenRequests(idp), tokenCalls + 1, "one refresh request");
    assert.equal(await api(idp, headers.Authorization.slice(7)), 200);
    const [after] = readEntries();
    assert.equal(after!.accessToken, headers.Authorization.slice(7), "the new token is saved");
    assert.notEqual(after!.refreshToken, before!.refreshToken, "the rotated refresh token is saved");
    assert.equal(after!.name, before!.name);

    // The old refresh token is spent: the server refuses it (and, as it is a reuse, revokes the grant).
    const reuse = await rawRefresh(idp, before!.refreshToken!);
    assert.equal(reuse.error, "invalid_grant");
  } finally {
    await idp.close();
  }
});

test("a refresh token the server refuses (invalid_grant) falls back to the browser, and says so", async () => {
  const idp = await demoIdp();
  await login(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  const [entry] = readEntries();
  await revokeAtServer(idp, entry!.refreshToken!);
  expireAll();

  const ua = new ScriptedUserAgent({ login: "erin" });
  const { value: headers, stderr } = await captureOutput(() => login(config(idp, { openBrowser: ua.open })));
  assert.ok(ua.last, "the browser was opened");
  assert.match(stderr, /refused by the server \(invalid_grant/);
  assert.equal(await api(idp, headers.Authorization.slice(7)), 200);
  assert.equal(readEntries()[0]!.name, "erin");
  assertNoSecret(stderr, [entry!.accessToken, entry!.refreshToken]);
});

test("a refresh that cannot reach the server fails with its cause, and the saved entry is kept", async () => {
  const idp = await startDemoIdp();
  await login(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  await idp.close();
  expireAll();
  const saved = readFileSync(cacheFile(), "utf8");
  const error = await login(config(idp, { openBrowser: noBrowser().open })).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError, String(error));
  assert.equal(error.code, "TOKEN_REQUEST_FAILED");
  assert.match(error.message, /Could not reach the token endpoint/);
  assert.ok(error.cause, "the network error is kept as cause");
  assert.equal(readFileSync(cacheFile(), "utf8"), saved, "the entry is untouched");
  const [entry] = readEntries();
  assertNoSecret(visibleText(error), [entry!.accessToken, entry!.refreshToken]);
});

/** Starts `n` separate Node processes that each call login() at the same moment. */
async function runChildren(
  n: number,
  loginConfig: LoginConfig,
  options: { env?: NodeJS.ProcessEnv; cwd?: string; interactive?: boolean } = {},
): Promise<{ status?: number; token?: string; error?: string; message?: string; browserOpened: boolean }[]> {
  const script = new URL("./support/cache-child.js", import.meta.url);
  const issuer = loginConfig.issuer!;
  const arg = JSON.stringify({ ...loginConfig, api: `${issuer}/api/me` });
  const children = Array.from({ length: n }, () =>
    spawn(process.execPath, [script.pathname, arg, options.interactive ? "interactive" : ""], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    }),
  );
  const outputs = children.map((child) => {
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk));
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on("data", () => out.includes("ready\n") && resolve());
      child.once("exit", (code) => reject(new Error(`child exited ${code} before it was ready: ${err}`)));
    });
    const done = new Promise<string>((resolve) => child.once("exit", () => resolve(out)));
    return { ready, done, err: () => err };
  });
  await Promise.all(outputs.map((o) => o.ready));
  for (const child of children) child.stdin.end("go\n");
  const results = await Promise.all(outputs.map((o) => o.done));
  return results.map((text, i) => {
    const line = text.split("\n").find((l) => l.startsWith("{"));
    if (!line) throw new Error(`child ${i} printed no result: ${text} ${outputs[i]!.err()}`);
    return JSON.parse(line);
  });
}

test("four processes refreshing the same entry at once: one refresh, four working tokens, and the grant survives", async () => {
  const idp = await demoIdp();
  await login(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  expireAll();
  const tokenCalls = tokenRequests(idp);

  const results = await runChildren(4, config(idp));
  for (const result of results) {
    assert.equal(result.error, undefined, `a process failed: ${result.error} ${result.message}`);
    assert.equal(result.status, 200);
    assert.equal(result.browserOpened, false);
  }
  assert.equal(tokenRequests(idp), tokenCalls + 1, "exactly one refresh reached the server");
  assert.equal(new Set(results.map((r) => r.token)).size, 1, "the waiting processes used the token the first one got");

  // The grant is intact: the saved refresh token still works (a reuse would have revoked it).
  const [entry] = readEntries();
  assert.equal(createHash("sha256").update(entry!.accessToken).digest("hex").slice(0, 16), results[0]!.token);
  const next = await rawRefresh(idp, entry!.refreshToken!);
  assert.equal(next.status, 200, JSON.stringify(next.error));
  assert.equal(await api(idp, next.access_token!), 200);
  assert.deepEqual(readdirSync(cacheDir), ["tokens.json"], "no lock left behind");
});

test("control: two uncoordinated refreshes with one refresh token log the user out (what the lock prevents)", async () => {
  const idp = await demoIdp();
  await login(config(idp, { openBrowser: new ScriptedUserAgent().open, cache: true }));
  const [entry] = readEntries();
  const first = await rawRefresh(idp, entry!.refreshToken!);
  assert.equal(first.status, 200);
  const second = await rawRefresh(idp, entry!.refreshToken!);
  assert.equal(second.error, "invalid_grant");
  assert.equal(await api(idp, first.access_token!), 401, "the reuse revoked the whole grant");
  assert.equal((await rawRefresh(idp, first.refresh_token!)).error, "invalid_grant");
});

test("a stale lock left by a dead process is broken; a live one is waited for", async () => {
  const idp = await demoIdp();
  await login(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  expireAll();
  // A kernel that died while refreshing: its pid does not exist any more.
  writeFileSync(
    join(cacheDir, "tokens.lock"),
    JSON.stringify({ pid: 2 ** 22 + 12345, host: (await import("node:os")).hostname(), token: "x", at: Date.now() }),
  );
  const headers = await login(config(idp, { openBrowser: noBrowser().open }));
  assert.equal(await api(idp, headers.Authorization.slice(7)), 200);
  assert.ok(!existsSync(join(cacheDir, "tokens.lock")));

  // A live holder (this process, as another kernel would be): the login waits until it lets go.
  expireAll();
  writeFileSync(join(cacheDir, "tokens.lock"), JSON.stringify({ pid: process.pid, host: (await import("node:os")).hostname(), token: "held", at: Date.now() }));
  let settled = false;
  const waiting = login(config(idp, { openBrowser: noBrowser().open })).finally(() => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(settled, false, "login() went on while another process held the lock");
  rmSync(join(cacheDir, "tokens.lock"));
  const after = await waiting;
  assert.equal(await api(idp, after.Authorization.slice(7)), 200);
});

test("a symbolic link in place of the lock file (dangling, or to another file) is broken, never followed: the login completes within its bound", async () => {
  const idp = await demoIdp();
  const victim = join(mkdtempSync(join(tmpdir(), "tslab-oauth-lock-victim-")), "victim");
  for (const target of [join(cacheDir, "nowhere"), victim]) {
    if (target === victim) writeFileSync(victim, "someone else's file");
    mkdirSync(cacheDir, { recursive: true });
    symlinkSync(target, join(cacheDir, "tokens.lock"));
    const headers = await login(config(idp, { cache: true, signal: AbortSignal.timeout(10_000), openBrowser: new ScriptedUserAgent().open }));
    assert.equal(await api(idp, headers.Authorization.slice(7)), 200);
    assert.equal(readEntries().length >= 1, true, "the sign-in was saved");
    assert.ok(!existsSync(join(cacheDir, "tokens.lock")), "the link is gone");
    expireAll();
  }
  assert.equal(readFileSync(victim, "utf8"), "someone else's file");
  assert.ok(!existsSync(join(cacheDir, "nowhere")), "a dangling link's target is never created");
});

test("a corrupted cache file: warned once, never a crash, moved aside (not deleted) at the next save", async () => {
  const idp = await demoIdp();
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(cacheFile(), '{"half": "a file cut short by a full disk', { mode: 0o600 });
  const { value: headers, stderr } = await captureOutput(() => login(config(idp, { openBrowser: new ScriptedUserAgent().open })));
  assert.equal(await api(idp, headers.Authorization.slice(7)), 200);
  assert.match(stderr, /is not valid JSON/);
  assert.match(stderr, /moved to .*tokens\.json\.corrupt-/);
  const aside = readdirSync(cacheDir).filter((f) => f.startsWith("tokens.json.corrupt-"));
  assert.equal(aside.length, 1);
  assert.equal(readFileSync(join(cacheDir, aside[0]!), "utf8"), '{"half": "a file cut short by a full disk', "the damaged file is kept as it was");
  assert.equal(readEntries().length, 1, "a new cache was started");
  assert.equal(mode(cacheFile()), "600");

  // One malformed entry does not cost the others: it is skipped, they stay.
  const data = JSON.parse(readFileSync(cacheFile(), "utf8")) as Record<string, unknown>;
  data["not-ours"] = { format: 1, accessToken: 42 };
  writeFileSync(cacheFile(), JSON.stringify(data));
  const again = await captureOutput(() => login(config(idp, { scopes: ["openid"], openBrowser: new ScriptedUserAgent().open })));
  assert.doesNotMatch(again.stderr, /warning/, "a malformed entry of another key is not even read");
  const after = JSON.parse(readFileSync(cacheFile(), "utf8")) as Record<string, unknown>;
  assert.deepEqual(after["not-ours"], { format: 1, accessToken: 42 });
  assert.equal(Object.keys(after).length, 3);
});

test("a cache that cannot be written: login() still returns working headers, and says the sign-in was not saved", async () => {
  const idp = await demoIdp();
  mkdirSync(cacheFile(), { recursive: true }); // a directory where the file should be
  const { value: headers, stderr } = await captureOutput(() => login(config(idp, { openBrowser: new ScriptedUserAgent().open })));
  assert.equal(await api(idp, headers.Authorization.slice(7)), 200);
  assert.match(stderr, /Could not (save|read)/);
  assert.match(stderr, /tokens\.json/);
  assertNoSecret(stderr, [headers.Authorization.slice(7)]);
});

test("logout() revokes at the server (RFC 7009) and removes the entry; the old tokens are refused afterwards", async () => {
  const idp = await demoIdp();
  await login(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  await login(config(idp, { profile: "other", openBrowser: new ScriptedUserAgent().open }));
  const [entry] = readEntries();
  const result = await logout(config(idp));
  assert.deepEqual(result, {
    removed: true,
    revoked: ["refresh_token", "access_token"],
    revocationEndpoint: `${idp.issuer}/token/revocation`,
    alsoAffected: [{ scopes: ["openid", "profile"], profile: "other", action: "refresh first" }],
  });
  assert.equal((await rawRefresh(idp, entry!.refreshToken!)).error, "invalid_grant");
  assert.equal(await api(idp, entry!.accessToken), 401);
  assert.equal(readEntries().length, 1, "the other profile's entry stays");
  // It was made in another browser session (its own grant): its check is one silent refresh.
  const refreshes = tokenRequests(idp);
  const other = await login(config(idp, { profile: "other", openBrowser: () => assert.fail("no browser: its grant was not revoked") }));
  assert.equal(await api(idp, other.Authorization.slice(7)), 200);
  assert.equal(tokenRequests(idp), refreshes + 1);
  assert.deepEqual(await logout(config(idp)), { removed: false, revoked: [], revocationEndpoint: undefined, alsoAffected: [] });
  const ua = new ScriptedUserAgent();
  await login(config(idp, { openBrowser: ua.open }));
  assert.ok(ua.last, "after logout, login() signs in again");
});

test("logout() of one of two sign-ins that share a grant: the other is not handed out dead, the cell says so, and the next login signs in again", async () => {
  const idp = await demoIdp();
  // One browser session signs in twice: oidc-provider keeps one grant for the user and client.
  const browser = new ScriptedUserAgent({ login: "grace" });
  const profile = config(idp, { openBrowser: browser.open });
  const email = config(idp, { scopes: ["openid", "email"], openBrowser: browser.open });
  await login(profile);
  const before = await login(email);
  assert.equal(await api(idp, before.Authorization.slice(7)), 200);
  const { value: result, stderr } = await captureOutput(() => logout(profile));
  assert.deepEqual(result.alsoAffected, [{ scopes: ["email", "openid"], profile: undefined, action: "refresh first" }]);
  assert.match(
    stderr,
    /may have ended other sign-ins of this user with client tslab-demo along with this one, so they will be refreshed before their token is used again, scopes "email openid"/,
  );
  assert.equal(await api(idp, before.Authorization.slice(7)), 401, "the provider ended it with the grant");
  // Never handed out: the check (a refresh) is refused, and one browser sign-in follows.
  const ua = new ScriptedUserAgent({ login: "grace" });
  const { value: after, stderr: said } = await captureOutput(() => login({ ...email, openBrowser: ua.open }));
  assert.ok(ua.last, "a browser sign-in");
  assert.notEqual(after.Authorization, before.Authorization);
  assert.equal(await api(idp, after.Authorization.slice(7)), 200);
  assert.match(said, /refused/);
});

test("logout() with revoke: false touches no other sign-in; one of another user is never touched", async () => {
  const idp = await demoIdp();
  await login(config(idp, { openBrowser: new ScriptedUserAgent({ login: "ivan" }).open }));
  await login(config(idp, { profile: "judy", openBrowser: new ScriptedUserAgent({ login: "judy" }).open }));
  await login(config(idp, { profile: "ivan2", openBrowser: new ScriptedUserAgent({ login: "ivan" }).open }));
  const kept = readFileSync(cacheFile(), "utf8");
  assert.deepEqual((await logout({ ...config(idp), revoke: false })).alsoAffected, []);
  const left = JSON.parse(readFileSync(cacheFile(), "utf8")) as Record<string, Entry>;
  const keptEntries = JSON.parse(kept) as Record<string, Entry>;
  for (const [key, entry] of Object.entries(left)) assert.deepEqual(entry, keptEntries[key], "untouched");
  const result = await logout(config(idp, { profile: "ivan2" }));
  assert.deepEqual(result.alsoAffected, [], "judy is another user; ivan's other sign-in was already removed");
});

test("logout() that cannot reach the revocation endpoint removes nothing; revoke: false only forgets", async () => {
  const idp = await startDemoIdp();
  await login(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  await idp.close();
  const saved = readFileSync(cacheFile(), "utf8");
  const error = await logout(config(idp)).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError);
  assert.equal(error.code, "REVOCATION_FAILED");
  assert.match(error.message, /revoke: false/);
  assert.equal(readFileSync(cacheFile(), "utf8"), saved);
  assert.deepEqual(await logout({ ...config(idp), revoke: false }), { removed: true, revoked: [], revocationEndpoint: undefined, alsoAffected: [] });
  assert.equal(readEntries().length, 0);
});

test("a cache file readable by others is tightened to 0600; a symbolic link in its place is never written through", async () => {
  const idp = await demoIdp();
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(cacheFile(), "{}", { mode: 0o644 });
  chmodSync(cacheFile(), 0o644);
  await login(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  assert.equal(mode(cacheFile()), "600");

  const other = mkdtempSync(join(tmpdir(), "tslab-oauth-victim-"));
  try {
    const victim = join(other, "victim.json");
    writeFileSync(victim, "{}", { mode: 0o644 });
    rmSync(cacheFile());
    symlinkSync(victim, cacheFile());
    const { value: headers, stderr } = await captureOutput(() => login(config(idp, { openBrowser: new ScriptedUserAgent().open })));
    assert.equal(await api(idp, headers.Authorization.slice(7)), 200);
    assert.match(stderr, /symbolic link/);
    assert.equal(readFileSync(victim, "utf8"), "{}", "the link's target is untouched");
    assert.equal(mode(victim), "644", "and its mode too");
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});
