// A second API at an authorization server already signed in to (#26, RFC 8707 §2.2): first the saved
// sign-in's refresh token with the new `resource`, a browser only when the server refuses. Two real
// oidc-provider servers: one whose consent covers every API it knows (`grantKnownResources`), so the
// refresh is granted, and one that grants only the APIs of the sign-in, so it answers
// `invalid_target` — after spending the rotated refresh token, which is why it is never sent again.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, beforeEach, describe, test } from "node:test";
import { startDemoApi } from "../demo/api.js";
import { login, logout, session, type LoginConfig } from "../src/index.js";
import { captureOutput } from "./support/capture.js";
import { expireSavedSignIns, isolateCache } from "./support/fixtures.js";
import { recordedIdp, type Seen } from "./support/recorded-idp.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

type Saved = { resource?: string; refreshToken?: string; grant?: string; otherApis?: string; accessToken: string };

const grouped = await recordedIdp({ registration: "open", resourceIndicators: true, grantKnownResources: true });
const strict = await recordedIdp({ registration: "open", resourceIndicators: true });
const apis = {
  grouped: [await startDemoApi({ idp: grouped, path: "/files" }), await startDemoApi({ idp: grouped, path: "/mail" })],
  strict: [
    await startDemoApi({ idp: strict, path: "/files" }),
    await startDemoApi({ idp: strict, path: "/mail" }),
    await startDemoApi({ idp: strict, path: "/chat" }),
  ],
};
after(async () => {
  for (const api of [...apis.grouped, ...apis.strict]) await api.close();
  await grouped.close();
  await strict.close();
});
let cacheDir = "";
beforeEach(() => {
  cacheDir = isolateCache();
  grouped.seen.length = 0;
  strict.seen.length = 0;
});

const noBrowser = (): never => assert.fail("no browser may open");
const byUrl = (resource: string, extra: Partial<LoginConfig> = {}): LoginConfig => ({
  resource,
  flow: "loopback",
  timeout: 20,
  openBrowser: new ScriptedUserAgent().open,
  ...extra,
});
const saved = (): Saved[] => Object.values(JSON.parse(readFileSync(join(cacheDir, "tokens.json"), "utf8")) as Record<string, Saved>);
const savedFor = (resource: string): Saved => saved().find((e) => e.resource === resource)!;
const refreshesFor = (seen: Seen[], resource: string): Seen[] =>
  seen.filter((r) => r.path === "/token" && r.params.get("grant_type") === "refresh_token" && r.params.get("resource") === resource);
const audience = async (resource: string, headers: { Authorization: string }): Promise<string> => {
  const res = await fetch(`${resource}/me`, { headers });
  assert.equal(res.status, 200, `${resource} accepts the token`);
  return ((await res.json()) as { aud: string }).aud;
};

describe("the server grants the second API by refresh", () => {
  const [files, mail] = apis.grouped as [Awaited<ReturnType<typeof startDemoApi>>, Awaited<ReturnType<typeof startDemoApi>>];

  test("no browser for the second API, unattended too; the two sign-ins keep one rotating refresh token in step", async () => {
    await login(byUrl(files.resource));
    grouped.seen.length = 0;
    const headers = await login(byUrl(mail.resource, { openBrowser: noBrowser, interactive: false }));
    assert.equal(await audience(mail.resource, headers), mail.resource, "a token for the second API alone");
    assert.equal(refreshesFor(grouped.seen, mail.resource).length, 1, "one refresh with the new resource (RFC 8707 §2.2)");
    assert.equal(grouped.seen.filter((r) => r.path === "/auth" || r.path === "/reg").length, 0, "no browser sign-in, no new registration");
    const [a, b] = [savedFor(files.resource), savedFor(mail.resource)];
    assert.ok(a.grant && a.grant === b.grant, "marked as holding one refresh token");
    assert.equal(a.refreshToken, b.refreshToken, "the rotated refresh token is saved in both");

    // Each refresh rotates it (a public client at oidc-provider); had the other kept the spent one, the
    // server would end the whole grant on its next refresh, and a browser would be needed.
    for (const api of [files, mail, files, mail]) {
      expireSavedSignIns(cacheDir);
      const next = await login(byUrl(api.resource, { openBrowser: noBrowser, interactive: false }));
      assert.equal(await audience(api.resource, next), api.resource);
      const [x, y] = [savedFor(files.resource), savedFor(mail.resource)];
      assert.equal(x.refreshToken, y.refreshToken, "still in step after a refresh of one of them");
    }
    assert.equal(grouped.seen.filter((r) => r.path === "/auth").length, 0, "never a browser");
  });

  test("logout of one forgets the other that held the same refresh token", async () => {
    await login(byUrl(files.resource));
    await login(byUrl(mail.resource, { openBrowser: noBrowser }));
    const { value: result } = await captureOutput(() => logout({ resource: files.resource }));
    assert.deepEqual(
      result.alsoAffected.map((o) => o.action),
      ["forgotten"],
    );
    assert.equal(saved().length, 0);
  });

  test("session(): the second API's session needs no browser either", async () => {
    await session(byUrl(files.resource));
    const s = await session(byUrl(mail.resource, { openBrowser: noBrowser }));
    assert.equal((await s.fetch(`${mail.resource}/me`)).status, 200);
  });
});

describe("the server refuses a new API by refresh (invalid_target)", () => {
  const [files, mail, chat] = apis.strict as [
    Awaited<ReturnType<typeof startDemoApi>>,
    Awaited<ReturnType<typeof startDemoApi>>,
    Awaited<ReturnType<typeof startDemoApi>>,
  ];

  test("one browser sign-in, the cell says why; the refresh token tried is never sent again, and no grant is ended", async () => {
    await login(byUrl(files.resource));
    const tried = savedFor(files.resource).refreshToken!;
    strict.seen.length = 0;
    const { value: headers, stderr } = await captureOutput(() => login(byUrl(mail.resource)));
    assert.equal(await audience(mail.resource, headers), mail.resource);
    assert.equal(refreshesFor(strict.seen, mail.resource).length, 1, "the refresh was tried first");
    assert.equal(strict.seen.filter((r) => r.path === "/auth").length, 1, "then one browser sign-in");
    assert.match(stderr, /would not give a token for 127\.0\.0\.1:\d+ .*invalid_target/);
    assert.doesNotMatch(stderr, new RegExp(tried), "no token in the cell");

    // Why it is not sent again: the server spent it before it looked at the resource.
    const spent = await strict.provider.RefreshToken.find(tried);
    assert.ok(spent?.consumed, "oidc-provider consumed the refresh token it then refused");
    const first = savedFor(files.resource);
    assert.equal(first.refreshToken, undefined, "dropped from the first sign-in");
    assert.equal(first.otherApis, "refused");
    // The first sign-in's token still works, from the cache, with no request.
    strict.seen.length = 0;
    assert.equal(await audience(files.resource, await login(byUrl(files.resource, { openBrowser: noBrowser }))), files.resource);
    assert.equal(strict.seen.length, 0, "nothing asked of the server");

    // The new sign-in survives: its refresh works (a spent token sent again would have ended the grant).
    expireSavedSignIns(cacheDir);
    const renewed = await login(byUrl(mail.resource, { openBrowser: noBrowser }));
    assert.equal(await audience(mail.resource, renewed), mail.resource);

    // A third API at that server goes straight to the browser: no second refresh token risked.
    strict.seen.length = 0;
    await login(byUrl(chat.resource));
    assert.equal(refreshesFor(strict.seen, chat.resource).length, 0);
    assert.equal(strict.seen.filter((r) => r.path === "/auth").length, 1);
  });

  test("forceLogin never uses another sign-in's refresh token", async () => {
    await login(byUrl(files.resource));
    strict.seen.length = 0;
    await login(byUrl(mail.resource, { forceLogin: true }));
    assert.equal(refreshesFor(strict.seen, mail.resource).length, 0);
    assert.ok(savedFor(files.resource).refreshToken, "the first sign-in keeps its refresh token");
  });
});
