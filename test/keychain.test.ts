// `store`: the secrets of a saved sign-in in the OS secret store (#29), against a real Secret
// Service (Debian's gnome-keyring on a private D-Bus session bus, test/support/secret-service.ts)
// and a real oidc-provider. Without a secret store (the fallback, its notice): keychain-fallback.test.ts.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, beforeEach, test } from "node:test";
import { startDemoIdp } from "../demo/idp.js";
import { login, logout, session, LoginError, type LoginConfig } from "../src/index.js";
import { captureOutput } from "./support/capture.js";
import { closeDemoIdp, demoIdp, expireSavedSignIns, isolateCache } from "./support/fixtures.js";
import {
  api,
  config,
  escape,
  folderItems,
  folderText as textIn,
  hash,
  loginInChild,
  refuseBrowser,
  saved as savedIn,
  token,
  type Saved,
} from "./support/keychain-tests.js";
import { startSecretService, type SecretService } from "./support/secret-service.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const run = promisify(execFile);
let keyring: SecretService;
let cacheDir = "";
before(async () => {
  keyring = await startSecretService();
});
after(async () => {
  await closeDemoIdp();
  await keyring.close();
});
beforeEach(() => {
  cacheDir = isolateCache();
  process.env.DBUS_SESSION_BUS_ADDRESS = keyring.address;
  delete process.env.TSLAB_OAUTH_STORE;
});

const saved = (): Saved => savedIn(cacheDir);
const folderText = (): string => textIn(cacheDir);
const items = () => folderItems(keyring, cacheDir);
const child = (loginConfig: LoginConfig, options: { interactive?: boolean } = {}) => loginInChild(loginConfig, { dir: cacheDir, bus: keyring, ...options });

test('store: "keychain": no token value anywhere under the folder, one small item in the Secret Service, a second process signs in from it', async () => {
  const idp = await demoIdp();
  const headers = await login(config(idp, { store: "keychain", openBrowser: new ScriptedUserAgent({ login: "alice" }).open }));
  assert.equal(await api(idp, token(headers)), 200);

  const [entry] = Object.values(saved());
  assert.equal(entry!.secrets, "keychain");
  assert.equal(entry!.accessToken, undefined);
  assert.equal(entry!.refreshToken, undefined);
  assert.equal(entry!.refreshable, true);
  assert.equal(entry!.name, "alice", "what is not secret stays readable");
  assert.ok(!folderText().includes(token(headers)), "the access token is in a file");
  assert.equal((statSync(join(cacheDir, "tokens.json")).mode & 0o777).toString(8), "600");

  const found = await items();
  assert.equal(found.length, 1);
  assert.match(found[0]!.account, /^tokens:[0-9a-f]{16}$/);
  assert.ok(found[0]!.secret.length <= 64, `a small item (${found[0]!.secret.length} characters), whatever the tokens weigh`);
  assert.ok(!found[0]!.secret.includes(token(headers)));

  const requests = idp.requestCount() + 1; // the child's API call
  const second = await child(config(idp, { store: "keychain" }));
  assert.equal(second.status, 200, JSON.stringify(second));
  assert.equal(second.browserOpened, false);
  assert.equal(second.token, hash(token(headers)), "the same token, read through the secret store");
  assert.equal(idp.requestCount(), requests, "a warm start makes no request");
});

test("a refresh rotates the refresh token in the sealed entry: a second refresh still works, no browser", async () => {
  const idp = await startDemoIdp({ accessTokenTtl: 2 });
  try {
    const first = await login(config(idp, { store: "keychain", openBrowser: new ScriptedUserAgent().open }));
    const sealedBefore = Object.values(saved())[0]!.sealed;
    for (let round = 1; round <= 2; round++) {
      expireSavedSignIns(cacheDir);
      const tokenCalls = idp.counts.get("/token") ?? 0;
      const next = await login(config(idp, { store: "keychain", openBrowser: refuseBrowser }));
      assert.equal(idp.counts.get("/token"), tokenCalls + 1, `refresh ${round}: one token request`);
      assert.notEqual(token(next), token(first));
      assert.equal(await api(idp, token(next)), 200);
      assert.ok(!folderText().includes(token(next)));
    }
    // oidc-provider ends the grant when a spent refresh token comes back: the second refresh proves the rotated one was saved.
    assert.notEqual(Object.values(saved())[0]!.sealed, sealedBefore);
    assert.equal((await items()).length, 1, "still one item: a refresh writes only the file");
  } finally {
    await idp.close();
  }
});

test("logout() removes the sign-in, and with the last sealed one the item in the Secret Service", async () => {
  const idp = await demoIdp();
  await login(config(idp, { store: "keychain", openBrowser: new ScriptedUserAgent({ login: "alice" }).open }));
  await login(config(idp, { store: "keychain", scopes: ["openid"], openBrowser: new ScriptedUserAgent({ login: "bob" }).open }));
  assert.equal((await items()).length, 1, "one key for the folder");

  const first = await logout(config(idp, { store: "keychain" }));
  assert.equal(first.removed, true);
  assert.deepEqual(first.revoked.sort(), ["access_token", "refresh_token"], "revoked with the sealed tokens");
  assert.equal((await items()).length, 1, "another sign-in still uses the key");
  await logout(config(idp, { store: "keychain", scopes: ["openid"] }));
  assert.deepEqual(Object.keys(saved()), []);
  assert.deepEqual(await items(), [], "the key is gone with the last sign-in it sealed");
});

test('store: "file" (and TSLAB_OAUTH_STORE=file): the secret store is not touched, no notice', async () => {
  const idp = await demoIdp();
  const { value: headers, stderr } = await captureOutput(() => login(config(idp, { store: "file", openBrowser: new ScriptedUserAgent().open })));
  assert.equal(Object.values(saved())[0]!.accessToken, token(headers));
  assert.deepEqual(await items(), []);
  assert.doesNotMatch(stderr, /Your tokens are kept/);

  cacheDir = isolateCache();
  process.env.TSLAB_OAUTH_STORE = "file";
  const byEnv = await captureOutput(() => login(config(idp, { openBrowser: new ScriptedUserAgent().open })));
  assert.equal(Object.values(saved())[0]!.accessToken, token(byEnv.value));
  assert.deepEqual(await items(), []);
  // A sealed sign-in is not read by "file": said, and one sign-in.
  cacheDir = isolateCache();
  await login(config(idp, { store: "keychain", openBrowser: new ScriptedUserAgent().open }));
  const ua = new ScriptedUserAgent();
  const asFile = await captureOutput(() => login(config(idp, { openBrowser: ua.open })));
  assert.ok(ua.last, "signed in again");
  assert.match(asFile.stderr, /has its secrets in the Secret Service .*which `store: "file"` does not read/);
});

test("TSLAB_OAUTH_STORE chooses the store when the call does not; a wrong value is INVALID_CONFIG before any request", async () => {
  const idp = await demoIdp();
  process.env.TSLAB_OAUTH_STORE = "keychain";
  await login(config(idp, { openBrowser: new ScriptedUserAgent().open }));
  assert.equal(Object.values(saved())[0]!.secrets, "keychain");
  assert.equal((await items()).length, 1);

  process.env.TSLAB_OAUTH_STORE = "keyring";
  const requests = idp.requestCount();
  const wrong = await login(config(idp, { openBrowser: refuseBrowser })).catch((e: unknown) => e);
  assert.equal((wrong as LoginError).code, "INVALID_CONFIG");
  assert.match((wrong as Error).message, /\$TSLAB_OAUTH_STORE must be "auto".*got "keyring"/);
  const option = await login(config(idp, { store: "vault", openBrowser: refuseBrowser })).catch((e: unknown) => e);
  assert.match((option as Error).message, /`store` must be "auto"/);
  assert.equal(idp.requestCount(), requests);
});

test("a DPoP-bound session: its private key is sealed too, and a later session signs its proofs with it", async () => {
  const idp = await demoIdp();
  const first = await session(config(idp, { dpop: true, store: "keychain", openBrowser: new ScriptedUserAgent().open }));
  assert.equal((await first.fetch(`${idp.issuer}/api/me`)).status, 200);
  const [entry] = Object.values(saved());
  assert.equal(entry!.tokenType, "DPoP");
  assert.equal(entry!.dpopKey, undefined, "no private key in the file");
  assert.doesNotMatch(folderText(), /"d":/);

  const second = await session(config(idp, { dpop: true, store: "keychain", openBrowser: refuseBrowser }));
  assert.equal((await second.fetch(`${idp.issuer}/api/me`)).status, 200, "the key came back from the sealed entry");
});

test("an item removed from the Secret Service: a notice and one sign-in, never a failure", async () => {
  const idp = await demoIdp();
  await login(config(idp, { store: "keychain", openBrowser: new ScriptedUserAgent().open }));
  const [item] = await items();
  await run("secret-tool", ["clear", "service", "tslab-oauth", "username", item!.account], { env: { ...process.env, ...keyring.env } });
  assert.deepEqual(await items(), []);

  const next = await child(config(idp, { store: "keychain" }), { interactive: true });
  assert.equal(next.status, 200, JSON.stringify(next));
  assert.equal(next.browserOpened, true, "one sign-in");
  assert.match(next.stderr, /secrets of a saved sign-in are gone from the Secret Service/);
  assert.equal((await items()).length, 1, "a new key");
});

test("tslab-oauth status says where each sign-in's secrets live, and prints no secret", async () => {
  const idp = await demoIdp();
  const sealed = await login(config(idp, { store: "keychain", openBrowser: new ScriptedUserAgent({ login: "alice" }).open }));
  const plain = await login(config(idp, { store: "file", scopes: ["openid"], openBrowser: new ScriptedUserAgent({ login: "bob" }).open }));
  const bin = new URL("../../dist/cli/bin.js", import.meta.url).pathname;
  const { stdout } = await run(process.execPath, [bin, "status"], { env: { ...process.env, ...keyring.env, TSLAB_OAUTH_CACHE_DIR: cacheDir } });
  const lines = stdout.trim().split("\n");
  const alice = lines.find((l) => l.includes("as alice"));
  const bob = lines.find((l) => l.includes("as bob"));
  assert.match(alice ?? "", /refresh token held, secrets sealed by a key in the Secret Service \(GNOME Keyring, KWallet\)$/);
  assert.match(bob ?? "", new RegExp(`secrets in ${escape(join(cacheDir, "tokens.json"))} \\(owner-only file\\)`));
  for (const secret of [token(sealed), token(plain)]) assert.ok(!stdout.includes(secret));
});

test("an abort while the secret store is opened is ABORTED, not STORE_UNAVAILABLE, and leaves the store usable", async () => {
  const idp = await demoIdp();
  const controller = new AbortController();
  controller.abort();
  const error = await login(config(idp, { store: "keychain", signal: controller.signal, openBrowser: refuseBrowser })).catch((e: unknown) => e);
  assert.equal((error as LoginError).code, "ABORTED", String(error));
  const headers = await login(config(idp, { store: "keychain", openBrowser: new ScriptedUserAgent().open }));
  assert.equal(await api(idp, token(headers)), 200);
  assert.equal(Object.values(saved())[0]!.secrets, "keychain", "the aborted call did not make the folder give up its secret store");
});
