// Profiles: the client's settings kept on the user's machine (settings file, environment), so a
// shared notebook names only `profile`. Order: the call, then the settings file, then the
// environment. Against the real demo provider where a sign-in is involved.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, beforeEach, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEMO_CLIENT_ID, CONFIDENTIAL_CLIENT_ID } from "../demo/idp.js";
import { login, presets, removeProfile, saveProfile, LoginError } from "../src/index.js";
import { resolveConfig } from "../src/options/resolve.js";
import { applyProfile, profileEnvName } from "../src/options/profiles.js";
import { readProfiles, savedProfiles } from "../src/store/profiles.js";
import { closeDemoIdp, demoIdp, isolateCache } from "./support/fixtures.js";
import { captureOutput } from "./support/capture.js";
import { assertNoSecret, openHandles } from "./support/leaks.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const BIN = fileURLToPath(new URL("../../dist/cli/bin.js", import.meta.url));
let dir: string;
const envKeys: string[] = [];

function setEnv(name: string, value: string): void {
  envKeys.push(name);
  process.env[name] = value;
}

after(closeDemoIdp);
beforeEach(() => {
  dir = isolateCache();
});
afterEach(() => {
  for (const key of envKeys.splice(0)) delete process.env[key];
});

test("environment names: TSLAB_OAUTH_<PROFILE>_<FIELD>, the profile upper-cased with _ for anything else", () => {
  assert.equal(profileEnvName("work-gh", "clientId"), "TSLAB_OAUTH_WORK_GH_CLIENT_ID");
  assert.equal(profileEnvName("Team.API v2", "clientSecret"), "TSLAB_OAUTH_TEAM_API_V2_CLIENT_SECRET");
  assert.equal(profileEnvName("x", "authorizationEndpoint"), "TSLAB_OAUTH_X_AUTHORIZATION_ENDPOINT");
});

test("resolution order, field by field: the call > the settings file > the environment", async () => {
  await saveProfile("work", { issuer: "https://settings.example", clientId: "from-settings", scopes: ["openid", "settings"] });
  setEnv("TSLAB_OAUTH_WORK_CLIENT_ID", "from-env");
  setEnv("TSLAB_OAUTH_WORK_CLIENT_SECRET", "secret-from-env");
  setEnv("TSLAB_OAUTH_WORK_EXTRA_PARAMS", "audience=https://api.example&resource=r1");

  const fromSettings = resolveConfig({ profile: "work" }, savedProfiles);
  assert.equal(fromSettings.issuerId, "https://settings.example");
  assert.equal(fromSettings.clientId, "from-settings", "settings win over the environment");
  assert.equal(fromSettings.clientSecret, "secret-from-env", "the environment fills what the settings leave out");
  assert.deepEqual(fromSettings.scopes, ["openid", "settings"]);
  assert.deepEqual(fromSettings.extraParams, { audience: "https://api.example", resource: "r1" });
  assert.equal(fromSettings.secretInSource, false);

  const fromCall = resolveConfig({ profile: "work", clientId: "from-call", scopes: "openid call" }, savedProfiles);
  assert.equal(fromCall.clientId, "from-call", "the call wins");
  assert.deepEqual(fromCall.scopes, ["openid", "call"]);
  assert.equal(fromCall.issuerId, "https://settings.example");

  // Environment only.
  setEnv("TSLAB_OAUTH_LAB_ISSUER", "https://env.example");
  setEnv("TSLAB_OAUTH_LAB_CLIENT_ID", "env-client");
  setEnv("TSLAB_OAUTH_LAB_SCOPES", "openid lab");
  const { config, sources } = applyProfile({ profile: "lab" } as never, readProfiles(dir));
  assert.equal(config.clientId, "env-client");
  assert.deepEqual(sources, { issuer: "environment", clientId: "environment", scopes: "environment" });
});

test("a missing profile: PROFILE_NOT_FOUND saying exactly what to set and how, nothing started or written", async () => {
  const handles = await openHandles();
  const error = await login({ profile: "team-api" }).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError);
  assert.equal(error.code, "PROFILE_NOT_FOUND");
  // Outside a notebook (this test, a script, the command) it speaks of the terminal, not of cells.
  assert.match(error.message, /Then run the command again\.$/);
  assert.doesNotMatch(error.message, /this cell|this notebook|saveProfile/);
  // In a notebook: a scratch cell is one more way, and "run this cell again".
  const inCell = (() => {
    try {
      resolveConfig({ profile: "team-api" }, { ...savedProfiles, inNotebook: true });
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  })();
  assert.match(inCell, /outside this notebook[\s\S]*saveProfile\("team-api"[\s\S]*Then run this cell again\.$/);
  for (const expected of [
    "npx tslab-oauth profile team-api --issuer",
    "TSLAB_OAUTH_TEAM_API_ISSUER",
    "TSLAB_OAUTH_TEAM_API_CLIENT_ID",
    join(dir, "profiles.json"),
    "no `clientId` and no `issuer`",
  ]) {
    assert.ok(error.message.includes(expected), `the message says ${expected}`);
  }
  assert.deepEqual(await openHandles(), handles);
  assert.equal(existsSync(join(dir, "profiles.json")), false);
  // A profile used only as a cache namespace, with everything in the call, is fine.
  assert.equal(resolveConfig({ profile: "second-account", issuer: "https://id.example", clientId: "app" }).profile, "second-account");
});

test("saveProfile(): owner-only file next to the cache, validated before writing, never through a link; login({ profile }) signs in with it", async () => {
  const idp = await demoIdp();
  await assert.rejects(saveProfile("half", { clientId: "no-issuer" }), /Give `issuer`/);
  await assert.rejects(saveProfile("odd", { clientId: "x", issuer: "https://a.example", cache: false } as never), /A profile holds only/);
  assert.equal(existsSync(join(dir, "profiles.json")), false, "nothing written for a refused profile");

  const secret = "confidential-secret-in-settings";
  const path = await saveProfile("demo", { issuer: idp.issuer, clientId: CONFIDENTIAL_CLIENT_ID, clientSecret: secret, scopes: ["openid", "profile"] });
  assert.equal(path, join(dir, "profiles.json"));
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.match(readFileSync(path, "utf8"), /"demo"/);

  // The demo's confidential client needs the real secret; the settings carry a wrong one here, so
  // the call's own secret (from the test's "environment") must win for the sign-in to work.
  setEnv("DEMO_SECRET", idp.clientSecret);
  const ua = new ScriptedUserAgent({ login: "erin" });
  const { value: headers, stderr } = await captureOutput(() => login({ profile: "demo", clientSecret: process.env.DEMO_SECRET, openBrowser: ua.open }));
  assert.match(headers.Authorization, /^Bearer /);
  assertNoSecret(stderr, [secret, idp.clientSecret]);

  assert.equal(await removeProfile("demo"), true);
  assert.equal(await removeProfile("demo"), false);

  const target = join(mkdtempSync(join(tmpdir(), "tslab-oauth-victim-")), "victim.json");
  writeFileSync(target, "{}");
  const linkDir = isolateCache();
  symlinkSync(target, join(linkDir, "profiles.json"));
  await assert.rejects(saveProfile("x", { issuer: "https://a.example", clientId: "x" }), /symbolic link/);
  assert.equal(readFileSync(target, "utf8"), "{}", "the link's target is untouched");
});

test("a secret typed into the call is flagged (in a notebook: a one-time warning); one from the environment or the settings is not", () => {
  setEnv("MY_CLIENT_SECRET", "s3cr3t-from-env");
  assert.equal(resolveConfig({ issuer: "https://a.example", clientId: "x", clientSecret: "typed-in-the-notebook" }).secretInSource, true);
  assert.equal(resolveConfig({ issuer: "https://a.example", clientId: "x", clientSecret: process.env.MY_CLIENT_SECRET }).secretInSource, false);
  setEnv("TSLAB_OAUTH_P_CLIENT_SECRET", "from-profile-env");
  assert.equal(resolveConfig({ profile: "p", issuer: "https://a.example", clientId: "x" }).secretInSource, false);
});

test("the command: `tslab-oauth profile` saves (secret read from stdin, never an argument), `profiles` lists without secrets, `--remove` removes", () => {
  const env = { ...process.env, TSLAB_OAUTH_CACHE_DIR: dir };
  const run = (args: string[], input = ""): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(process.execPath, [BIN, ...args], { env, input, encoding: "utf8" });

  const saved = run(["profile", "gh", "--preset", "github", "--client-id", "Iv1.abc", "--client-secret", "-"], "gh-secret-from-stdin\n");
  assert.equal(saved.status, 0, saved.stderr);
  assert.match(saved.stdout, /login\(\{ profile: "gh" \}\)/);
  const file = JSON.parse(readFileSync(join(dir, "profiles.json"), "utf8")) as { profiles: Record<string, Record<string, unknown>> };
  assert.deepEqual(file.profiles.gh, { ...presets.github(), clientId: "Iv1.abc", clientSecret: "gh-secret-from-stdin" });

  const listed = run(["profiles"]);
  assert.match(listed.stdout, /gh: https:\/\/github\.com\/login\/oauth\/authorize, client Iv1\.abc, secret set/);
  assert.ok(!listed.stdout.includes("gh-secret-from-stdin"));

  const onCommandLine = run(["profile", "gh2", "--issuer", "https://a.example", "--client-id", "x", "--client-secret", "visible-in-history"]);
  assert.equal(onCommandLine.status, 2);
  assert.match(onCommandLine.stderr, /--client-secret -/);

  const unknownPreset = run(["profile", "x", "--preset", "nope", "--client-id", "x"]);
  assert.equal(unknownPreset.status, 2);
  assert.match(unknownPreset.stderr, /Unknown preset "nope": use one of github, google, entra, auth0, okta, keycloak, gitlab/);

  const entra = run(["profile", "ms", "--preset", "entra", "--tenant", "common", "--client-id", "x"]);
  assert.equal(entra.status, 2);
  assert.match(entra.stderr, /Directory \(tenant\) ID/);

  const bound = run(["profile", "api", "--issuer", "https://id.example.com", "--client-id", "x", "--dpop", "--no-par"]);
  assert.equal(bound.status, 0, bound.stderr);
  assert.match(bound.stdout, /session\(\{ profile: "api" \}\)/);
  const saved2 = JSON.parse(readFileSync(join(dir, "profiles.json"), "utf8")) as { profiles: Record<string, Record<string, unknown>> };
  assert.deepEqual(saved2.profiles.api, { issuer: "https://id.example.com", clientId: "x", dpop: true, par: false });
  assert.equal(run(["profile", "api", "--remove"]).status, 0);

  assert.equal(run(["profile", "gh", "--remove"]).status, 0);
  assert.match(run(["profiles"]).stdout, /No profiles/);
});

test("the command takes login()'s terminal options (--flow, --timeout, --redirect-uri), one spelling of the scopes everywhere, and refuses an option a command does not take", () => {
  const env = { ...process.env, TSLAB_OAUTH_CACHE_DIR: dir, TSLAB_OAUTH_INTERACTIVE: "0" };
  const run = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(process.execPath, [BIN, ...args], { env, encoding: "utf8" });
  const selection = ["--issuer", "https://id.example.com", "--client-id", "x", "--scope", "openid"];
  // The messages say `flow: "loopback"`: the command takes it (and checks it as login() does).
  const flowed = run(["token", ...selection, "--flow", "loopback", "--timeout", "30", "--redirect-uri", "http://127.0.0.1:53682/callback"]);
  assert.match(flowed.stderr, /INTERACTION_REQUIRED/, flowed.stderr);
  assert.match(run(["token", ...selection, "--flow", "carrier-pigeon"]).stderr, /INVALID_CONFIG.*`flow`/);
  assert.match(run(["token", ...selection, "--timeout", "soon"]).stderr, /INVALID_CONFIG.*--timeout/);
  // --scope and --scopes are one option: the profile keeps what was given either way.
  for (const spelling of ["--scope", "--scopes"]) {
    assert.equal(run(["profile", "demo", "--issuer", "https://id.example.com", "--client-id", "x", spelling, "openid email"]).status, 0);
    const file = JSON.parse(readFileSync(join(dir, "profiles.json"), "utf8")) as { profiles: Record<string, { scopes?: unknown }> };
    assert.equal(file.profiles.demo!.scopes, "openid email", spelling);
  }
  assert.match(run(["token", "--scope", "a", "--scopes", "b", "--issuer", "https://id.example.com", "--client-id", "x"]).stderr, /Give the scopes once/);
  const stray = run(["profile", "demo", "--client-id", "x", "--header"]);
  assert.equal(stray.status, 2);
  assert.match(stray.stderr, /`--header` is not an option of `tslab-oauth profile` \(it is one of `token`\)/);
  assert.match(run(["status", "--issuer", "https://id.example.com"]).stderr, /`--issuer` is not an option of `tslab-oauth status`/);
  assert.match(run(["token", "--flw", "device"]).stderr, /INVALID_CONFIG.*`--flw` is not an option of tslab-oauth: did you mean `--flow`\?/);
});

test("yes/no fields from the environment: TSLAB_OAUTH_<PROFILE>_DPOP and _PAR read true/false, 1/0, yes/no", () => {
  const env = { TSLAB_OAUTH_W_ISSUER: "https://id.example.com", TSLAB_OAUTH_W_CLIENT_ID: "x", TSLAB_OAUTH_W_DPOP: "true", TSLAB_OAUTH_W_PAR: "0" };
  const { config } = applyProfile({ profile: "w" }, readProfiles(dir), env);
  assert.equal(config.dpop, true);
  assert.equal(config.par, false);
  const odd = applyProfile({ profile: "w" }, readProfiles(dir), { ...env, TSLAB_OAUTH_W_DPOP: "sometimes" }).config;
  assert.throws(() => resolveConfig(odd), /`dpop` must be true or false/);
});

test("the demo client, through a profile set in the environment only (as `npm start` does for notebooks/shared.ipynb)", async () => {
  const idp = await demoIdp();
  setEnv("TSLAB_OAUTH_DEMO_ISSUER", idp.issuer);
  setEnv("TSLAB_OAUTH_DEMO_CLIENT_ID", DEMO_CLIENT_ID);
  const headers = await login({ profile: "demo", scopes: ["openid"], openBrowser: new ScriptedUserAgent({ login: "fay" }).open });
  assert.match(headers.Authorization, /^Bearer /);
});
