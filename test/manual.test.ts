// The two-cell flow (beginLogin, then pending.complete with the pasted address), against the real
// oidc-provider. The scripted user agent signs in and stops at the redirect, as a browser that
// cannot reach the kernel does; the test "pastes" the address it ended on.
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { after, beforeEach, test } from "node:test";
import { request } from "undici";
import { DEMO_CLIENT_ID } from "../demo/idp.js";
import { beginLogin, login, LoginError, type LoginConfig } from "../src/index.js";
import { closeDemoIdp, demoIdp, isolateCache, type DemoIdp } from "./support/fixtures.js";
import { assertNoSecret, openHandles, portIsFree, visibleText } from "./support/leaks.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

after(closeDemoIdp);
beforeEach(() => {
  isolateCache();
});

function config(idp: DemoIdp, extra: Partial<LoginConfig> = {}): LoginConfig {
  return { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid", "profile"], ...extra };
}

/** A browser on another machine: signs in, and ends on the redirect it cannot load. */
function remoteBrowser(options: { login?: string; deny?: boolean } = {}): { open: (url: string) => void; address: () => Promise<string> } {
  let captured: ((url: string) => void) | undefined;
  const address = new Promise<string>((resolve) => (captured = resolve));
  const ua = new ScriptedUserAgent({
    ...options,
    onCallback: (url) => {
      captured!(url.href);
      return null;
    },
  });
  return { open: ua.open, address: () => address };
}

async function api(idp: DemoIdp, token: string): Promise<number> {
  const res = await request(`${idp.issuer}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  await res.body.dump();
  return res.statusCode;
}

test("beginLogin() returns at once with nothing listening; complete() with the pasted address signs in and saves the tokens", async () => {
  const idp = await demoIdp();
  const before = await openHandles();
  const browser = remoteBrowser({ login: "ines" });
  const pending = await beginLogin(config(idp, { openBrowser: browser.open }));
  assert.deepEqual(await openHandles(), before, "no listener, no timer between the two cells");
  const address = await browser.address();
  const redirect = new URL(address);
  assert.equal(redirect.hostname, "127.0.0.1");
  assert.ok(await portIsFree(Number(redirect.port)), "nothing listens on the redirect's port");

  const headers = await pending.complete(`  ${address}\n`);
  assert.equal(await api(idp, headers.Authorization.slice(7)), 200);
  const requests = idp.requestCount();
  const again = await login(config(idp, { openBrowser: () => assert.fail("the saved sign-in should answer") }));
  assert.equal(again.Authorization, headers.Authorization);
  assert.equal(idp.requestCount(), requests);

  // Single use.
  const replay = await pending.complete(address).catch((e: unknown) => e);
  assert.ok(replay instanceof LoginError);
  assert.equal(replay.code, "INVALID_AUTHORIZATION_RESPONSE");
  assert.match(replay.message, /already completed/);
  // Printing the pending sign-in shows no state or code.
  const state = redirect.searchParams.get("state")!;
  assertNoSecret(inspect(pending) + JSON.stringify(pending) + visibleText(replay), [state, redirect.searchParams.get("code")!]);
});

test("complete() refuses a tampered, foreign or malformed address without spending the sign-in", async () => {
  const idp = await demoIdp();
  const browser = remoteBrowser();
  const pending = await beginLogin(config(idp, { openBrowser: browser.open }));
  const address = new URL(await browser.address());

  const tampered = new URL(address);
  tampered.searchParams.set("state", "a-state-from-someone-else");
  const wrongIss = new URL(address);
  wrongIss.searchParams.set("iss", "https://evil.example");
  const otherPath = new URL(address);
  otherPath.pathname = "/elsewhere";
  const cases: [string, string, RegExp][] = [
    [tampered.href, "INVALID_AUTHORIZATION_RESPONSE", /belongs to another sign-in/],
    [otherPath.href, "INVALID_AUTHORIZATION_RESPONSE", /not this sign-in's redirect/],
    ["code=abc&state=def", "INVALID_AUTHORIZATION_RESPONSE", /not an address/],
    [wrongIss.href, "ISSUER_MISMATCH", /evil\.example/],
  ];
  const tokenRequests = idp.counts.get("/token") ?? 0;
  for (const [input, code, message] of cases) {
    const error = await pending.complete(input).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError, input);
    assert.equal(error.code, code, `${input}: ${error.message}`);
    assert.match(error.message, message);
    assertNoSecret(visibleText(error), [address.searchParams.get("code")!]);
  }
  assert.equal(idp.counts.get("/token") ?? 0, tokenRequests, "no code was exchanged for a refused address");
  // The genuine address still works after the refusals.
  const headers = await pending.complete(address.href);
  assert.equal(await api(idp, headers.Authorization.slice(7)), 200);
});

test("complete() after the sign-in expired: TIMEOUT; an error redirect (access_denied): AUTHORIZATION_DENIED", async () => {
  const idp = await demoIdp();
  const browser = remoteBrowser();
  const pending = await beginLogin(config(idp, { timeout: 0.5, openBrowser: browser.open }));
  const address = await browser.address();
  await new Promise((resolve) => setTimeout(resolve, 600));
  const expired = await pending.complete(address).catch((e: unknown) => e);
  assert.ok(expired instanceof LoginError);
  assert.equal(expired.code, "TIMEOUT");
  assert.match(expired.message, /beginLogin\(\) again/);

  const denying = remoteBrowser({ deny: true });
  const refused = await beginLogin(config(idp, { openBrowser: denying.open }));
  const error = await refused.complete(await denying.address()).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError);
  assert.equal(error.code, "AUTHORIZATION_DENIED");
  assert.equal(error.error, "access_denied");
});
