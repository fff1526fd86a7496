// Hostile conditions around the token cache (issue #8): the file's mode after every kind of write
// under a permissive umask, symbolic and hard links in place of the cache file (never written
// through, a dangling link's target never created), and concurrent writers in one process and
// across processes (no token lost: every token login() returned is the one saved). Each case is
// checked for secrets in what was printed and for anything left behind (test/support/hostile.ts).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe } from "node:test";
import { DEMO_CLIENT_ID } from "../demo/idp.js";
import { login, logout, type LoginConfig } from "../src/index.js";
import { closeDemoIdp, demoIdp, isolateCache } from "./support/fixtures.js";
import { withFakeAs, type FakeAs } from "./support/fake-as.js";
import { Tally, hostileTest, type CaseContext } from "./support/hostile.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const tally = new Tally("hostile-cache");
before(async () => {
  isolateCache();
  await demoIdp();
});
after(async () => {
  await closeDemoIdp();
  tally.print();
});

const CLIENT_ID = "hostile-client";
const made: string[] = [];
process.once("exit", () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
/** A fresh parent directory; the cache directory inside it does not exist yet. */
function fresh(): { parent: string; dir: string; file: string } {
  const parent = mkdtempSync(join(tmpdir(), "tslab-oauth-hostile-cache-"));
  made.push(parent);
  const dir = join(parent, "cache");
  return { parent, dir, file: join(dir, "tokens.json") };
}

type Entry = { accessToken: string; refreshToken?: string; expiresAt?: number; obtainedAt: number; profile?: string };
const readEntries = (file: string): Record<string, Entry> => JSON.parse(readFileSync(file, "utf8")) as Record<string, Entry>;
const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8);
const tokenOf = (headers: { Authorization: string }): string => headers.Authorization.slice("Bearer ".length);

function config(as: FakeAs, dir: string, extra: Partial<LoginConfig> = {}): LoginConfig {
  return { issuer: as.issuer, clientId: CLIENT_ID, cacheDir: dir, requestTimeout: 5, timeout: 10, openBrowser: new ScriptedUserAgent().open, ...extra };
}

/** Every token login() returned must be the one in the file (else it is lost for the next run). */
function assertSaved(ctx: CaseContext, file: string, tokens: Map<string | undefined, string>): void {
  const saved = Object.values(readEntries(file));
  for (const [profile, token] of tokens) {
    const entry = saved.find((e) => (e.profile ?? undefined) === profile);
    if (!entry) ctx.lostToken(`no entry for profile ${String(profile)}`);
    if (entry.accessToken !== token) ctx.lostToken(`profile ${String(profile)}: the saved token is not the one returned`);
  }
}

/** Moves every saved token's expiry into the past, keeping the file (and its mode). */
function expireAll(file: string): void {
  const data = readEntries(file);
  for (const entry of Object.values(data)) {
    entry.obtainedAt = Date.now() - 3_600_000;
    entry.expiresAt = Date.now() - 1000;
  }
  writeFileSync(file, JSON.stringify(data));
}

describe("token cache: modes and links", () => {
  hostileTest(
    tally,
    "the file stays 0600 in a 0700 directory after every write (sign-in, second profile, refresh, logout), even under umask 000",
    async (ctx) => {
      const previous = process.umask(0);
      try {
        await withFakeAs(ctx, {}, async (as) => {
          const { dir, file } = fresh();
          const returned = new Map<string | undefined, string>();
          const check = (what: string): void => {
            ctx.tried();
            assert.equal(mode(dir), "700", `${what}: directory mode`);
            assert.equal(mode(file), "600", `${what}: file mode`);
            assert.deepEqual(readdirSync(dir), ["tokens.json"], `${what}: no lock or temporary file left`);
          };
          returned.set(undefined, tokenOf(await login(config(as, dir))));
          check("sign-in");
          returned.set("second", tokenOf(await login(config(as, dir, { profile: "second" }))));
          check("second profile");
          assertSaved(ctx, file, returned);
          expireAll(file);
          const refreshes = as.hits.get("/token") ?? 0;
          returned.set(undefined, tokenOf(await login(config(as, dir, { openBrowser: () => assert.fail("a browser was opened") }))));
          assert.equal(as.hits.get("/token"), refreshes + 1, "one refresh");
          check("refresh");
          assertSaved(ctx, file, returned);
          const result = await logout(config(as, dir));
          assert.deepEqual(result.revoked, ["refresh_token", "access_token"]);
          check("logout");
          returned.delete(undefined);
          assertSaved(ctx, file, returned);
          assert.equal(Object.keys(readEntries(file)).length, 1);
        });
      } finally {
        process.umask(previous);
      }
    },
  );

  hostileTest(
    tally,
    "a symbolic link in place of tokens.json is never written through (sign-in, refresh, logout); a dangling link's target is never created; a hard link is not written through",
    async (ctx) => {
      await withFakeAs(ctx, {}, async (as) => {
        // A link to another file of the user's (say, a shell profile).
        {
          const { parent, dir, file } = fresh();
          mkdirSync(dir, { mode: 0o700 });
          const victim = join(parent, "victim.txt");
          writeFileSync(victim, "export PATH=/usr/bin\n", { mode: 0o644 });
          symlinkSync(victim, file);
          const headers = await login(config(as, dir));
          ctx.tried();
          assert.equal(tokenOf(headers), as.accessTokens.at(-1), "the login still works");
          assert.match(ctx.output(), /symbolic link/, "and says why the sign-in was not saved");
          assert.equal(readFileSync(victim, "utf8"), "export PATH=/usr/bin\n");
          assert.equal(mode(victim), "644");
          assert.ok(lstatSync(file).isSymbolicLink(), "the link itself is left alone");
        }
        // A dangling link: its target must not come into existence.
        {
          const { parent, dir, file } = fresh();
          mkdirSync(dir, { mode: 0o700 });
          const target = join(parent, "created-by-tslab-oauth.json");
          symlinkSync(target, file);
          await login(config(as, dir));
          ctx.tried();
          assert.equal(existsSync(target), false, "the dangling link's target was created");
        }
        // A link swapped in after a sign-in, to a copy holding an expired entry: the refresh (and
        // then logout) read through it but never write through it.
        {
          const { parent, dir, file } = fresh();
          await login(config(as, dir));
          expireAll(file);
          const victim = join(parent, "copy.json");
          writeFileSync(victim, readFileSync(file), { mode: 0o644 });
          rmSync(file);
          symlinkSync(victim, file);
          const before = readFileSync(victim, "utf8");
          const headers = await login(config(as, dir, { openBrowser: () => assert.fail("a browser was opened") }));
          ctx.tried();
          assert.equal(tokenOf(headers), as.accessTokens.at(-1), "refreshed");
          const out = await logout({ ...config(as, dir), revoke: false });
          ctx.tried();
          assert.equal(out.removed, false, "logout() does not claim a removal it could not make");
          assert.match(ctx.output(), /symbolic link/, "and the warning says why");
          assert.equal(readFileSync(victim, "utf8"), before, "the link's target was written");
          assert.equal(mode(victim), "644");
          assert.ok(lstatSync(file).isSymbolicLink());
        }
        // A hard link to another file: the cache is replaced by rename, the other name keeps its content.
        {
          const { parent, dir, file } = fresh();
          mkdirSync(dir, { mode: 0o700 });
          const other = join(parent, "other.json");
          writeFileSync(other, "{}", { mode: 0o644 });
          linkSync(other, file);
          const headers = await login(config(as, dir));
          ctx.tried();
          assert.equal(readFileSync(other, "utf8"), "{}", "written through the hard link");
          assert.equal(readEntries(file)[Object.keys(readEntries(file))[0]!]?.accessToken, tokenOf(headers));
          assert.equal(mode(file), "600");
        }
      });
    },
  );
});

describe("token cache: concurrent writers", () => {
  hostileTest(tally, "one process: 12 sign-ins at once, then 12 refreshes and 6 new sign-ins at once: every returned token is the saved one", async (ctx) => {
    await withFakeAs(ctx, {}, async (as) => {
      const { file, dir } = fresh();
      const returned = new Map<string | undefined, string>();
      const first = Array.from({ length: 12 }, (_, i) => `p${i}`);
      const results = await Promise.all(first.map((profile) => login(config(as, dir, { profile }))));
      first.forEach((profile, i) => returned.set(profile, tokenOf(results[i]!)));
      ctx.tried(12);
      assertSaved(ctx, file, returned);

      expireAll(file);
      const more = Array.from({ length: 6 }, (_, i) => `q${i}`);
      const refreshed = await Promise.all([
        ...first.map((profile) => login(config(as, dir, { profile, openBrowser: () => assert.fail(`${profile}: a browser was opened`) }))),
        ...more.map((profile) => login(config(as, dir, { profile }))),
      ]);
      [...first, ...more].forEach((profile, i) => returned.set(profile, tokenOf(refreshed[i]!)));
      ctx.tried(18);
      assertSaved(ctx, file, returned);
      assert.equal(Object.keys(readEntries(file)).length, 18);
      assert.deepEqual(readdirSync(dir), ["tokens.json"]);
    });
  });

  hostileTest(tally, "four processes and this one sign in to one cache at the same moment: five entries, each the token its process got", async (ctx) => {
    const idp = await demoIdp();
    const { dir, file } = fresh();
    const base: LoginConfig = { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], cacheDir: dir };
    const script = new URL("./support/cache-child.js", import.meta.url).pathname;
    const children = ["c0", "c1", "c2", "c3"].map((profile) => {
      const child = spawn(process.execPath, [script, JSON.stringify({ ...base, profile, api: `${idp.issuer}/api/me` }), "interactive"], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk));
      child.stderr.on("data", () => {});
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.on("data", () => out.includes("ready\n") && resolve());
        child.once("exit", (code) => reject(new Error(`child exited ${code} before it was ready`)));
      });
      const done = new Promise<string>((resolve) => child.once("exit", () => resolve(out)));
      return { profile, child, ready, done };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.end("go\n");
    const own = await login({ ...base, profile: "parent", openBrowser: new ScriptedUserAgent({ login: "dave" }).open });
    const outputs = await Promise.all(children.map((c) => c.done));
    ctx.tried(5);

    const saved = Object.values(readEntries(file));
    for (const entry of saved) ctx.secret(entry.accessToken, entry.refreshToken);
    const hash = (token: string): string => createHash("sha256").update(token).digest("hex").slice(0, 16);
    children.forEach((c, i) => {
      const line = outputs[i]!.split("\n").find((l) => l.startsWith("{"));
      const result = JSON.parse(line ?? "{}") as { status?: number; token?: string; error?: string };
      assert.equal(result.error, undefined, `${c.profile}: ${line}`);
      assert.equal(result.status, 200, `${c.profile}: the API refused its token`);
      const entry = saved.find((e) => e.profile === c.profile);
      if (!entry) return ctx.lostToken(`${c.profile}: no entry`);
      if (hash(entry.accessToken) !== result.token) ctx.lostToken(`${c.profile}: the saved token is not the one its process got`);
    });
    assertSaved(ctx, file, new Map([["parent", tokenOf(own)]]));
    assert.equal(saved.length, 5);
    assert.equal(mode(file), "600");
  });
});
