// `store` where no secret store can be used (#29), as on a headless server, in a container, and as
// every other test file of this suite runs: this process never has a D-Bus session (the binding
// keeps the first one it reaches, so a test with one lives in keychain.test.ts). Then a private D-Bus
// session with no Secret Service on it, and a Secret Service that appears later (a second process).
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, beforeEach, test } from "node:test";
import { login, LoginError } from "../src/index.js";
import { captureOutput } from "./support/capture.js";
import { closeDemoIdp, demoIdp, isolateCache } from "./support/fixtures.js";
import { api, config, escape, folderItems, folderText, hash, loginInChild, refuseBrowser, saved, token } from "./support/keychain-tests.js";
import { startSecretService } from "./support/secret-service.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

// Where libdbus would look for a session bus: the variable, else $XDG_RUNTIME_DIR/bus (a desktop's).
delete process.env.DBUS_SESSION_BUS_ADDRESS;
delete process.env.XDG_RUNTIME_DIR;
after(closeDemoIdp);
let cacheDir = "";
beforeEach(() => {
  cacheDir = isolateCache();
  delete process.env.TSLAB_OAUTH_STORE;
});

test('store: "keychain" without a D-Bus session: STORE_UNAVAILABLE naming `store` and what is missing, no browser, nothing written', async () => {
  const idp = await demoIdp();
  const requests = idp.requestCount();
  const error = await login(config(idp, { store: "keychain", openBrowser: refuseBrowser })).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError, String(error));
  assert.equal(error.code, "STORE_UNAVAILABLE");
  assert.match(error.message, /`store: "keychain"` needs the Secret Service/);
  assert.match(error.message, /no D-Bus session is running \(DBUS_SESSION_BUS_ADDRESS is not set\)/);
  assert.match(error.message, /Nothing secret was saved/);
  assert.ok(error.cause, "the binding's error is kept as the cause");
  assert.deepEqual(readdirSync(cacheDir), [], "nothing written");
  assert.equal(idp.requestCount(), requests, "no request: it fails before the sign-in");

  // The same from the environment variable.
  process.env.TSLAB_OAUTH_STORE = "keychain";
  const byEnv = await login(config(idp, { openBrowser: refuseBrowser })).catch((e: unknown) => e);
  assert.equal((byEnv as LoginError).code, "STORE_UNAVAILABLE");
});

test('store: "auto" without a D-Bus session: the sign-in works, the tokens go to the owner-only file, and the person is told once where', async () => {
  const idp = await demoIdp();
  const { value: headers, stderr } = await captureOutput(() => login(config(idp, { openBrowser: new ScriptedUserAgent().open })));
  assert.equal(await api(idp, token(headers)), 200);
  const [entry] = Object.values(saved(cacheDir));
  assert.equal(entry!.accessToken, token(headers));
  assert.equal(entry!.secrets, undefined);
  assert.equal((statSync(join(cacheDir, "tokens.json")).mode & 0o777).toString(8), "600");
  assert.match(stderr, new RegExp(`Your tokens are kept in ${escape(join(cacheDir, "tokens.json"))}, readable by you only`));
  assert.match(stderr, /no D-Bus session is running/);
  assert.match(stderr, /`store: "file"`/);
  assert.ok(!stderr.includes(token(headers)));

  const again = await captureOutput(() => login(config(idp, { scopes: ["openid"], openBrowser: new ScriptedUserAgent().open })));
  assert.doesNotMatch(again.stderr, /Your tokens are kept/, "the notice comes once per folder and process");
  const file = await captureOutput(() => login(config(idp, { store: "file", scopes: ["email"], openBrowser: new ScriptedUserAgent().open })));
  assert.doesNotMatch(file.stderr, /Your tokens are kept/, '`store: "file"` chose the file: no notice');
});

test("a D-Bus session with no Secret Service on it: keychain is STORE_UNAVAILABLE saying so, auto signs in to the file", async () => {
  const idp = await demoIdp();
  const bare = await startSecretService();
  try {
    await bare.stopKeyring();
    const keychain = await loginInChild(config(idp, { store: "keychain" }), { dir: cacheDir, bus: bare });
    assert.equal(keychain.error, "STORE_UNAVAILABLE", JSON.stringify(keychain));
    assert.match(keychain.message ?? "", /no Secret Service answers on the D-Bus session/);
    assert.equal(keychain.browserOpened, false);
    assert.deepEqual(readdirSync(cacheDir), []);

    const auto = await loginInChild(config(idp), { dir: cacheDir, bus: bare, interactive: true });
    assert.equal(auto.status, 200, JSON.stringify(auto));
    assert.match(
      auto.stderr,
      /Your tokens are kept in .*tokens\.json, readable by you only, because the Secret Service .* cannot be used here: no Secret Service answers/,
    );
    assert.equal(Object.values(saved(cacheDir))[0]!.secrets, undefined);
  } finally {
    await bare.close();
  }
});

test("a sign-in saved in the file while no secret store ran moves into it when one appears: no new sign-in", async () => {
  const idp = await demoIdp();
  const headers = await captureOutput(() => login(config(idp, { openBrowser: new ScriptedUserAgent().open })));
  assert.equal(Object.values(saved(cacheDir))[0]!.accessToken, token(headers.value));

  const keyring = await startSecretService();
  try {
    const requests = idp.requestCount() + 1; // the child's API call
    const later = await loginInChild(config(idp), { dir: cacheDir, bus: keyring });
    assert.equal(later.status, 200, JSON.stringify(later));
    assert.equal(later.browserOpened, false);
    assert.equal(later.token, hash(token(headers.value)));
    assert.equal(idp.requestCount(), requests);
    const [entry] = Object.values(saved(cacheDir));
    assert.equal(entry!.secrets, "keychain", "moved into the secret store");
    assert.ok(!folderText(cacheDir).includes(token(headers.value)), "and gone from the file");
    assert.equal((await folderItems(keyring, cacheDir)).length, 1);
  } finally {
    await keyring.close();
  }
});
