// Many callers, one sign-in (#28 §1), against the real demo provider: calls started at once in one
// process share one browser sign-in and get the same token; a second process (a second kernel,
// "Run All" in two notebooks) follows the sign-in under way in the first instead of opening a tab.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { login, session, type LoginConfig } from "../src/index.js";
import { closeDemoIdp, demoIdp, isolateCache } from "./support/fixtures.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

let idp: Awaited<ReturnType<typeof demoIdp>>;
before(async () => {
  idp = await demoIdp();
});
after(closeDemoIdp);
const config = (extra: Partial<LoginConfig> = {}): LoginConfig => ({
  issuer: idp.issuer,
  clientId: "tslab-demo",
  scopes: ["openid", "profile", "offline_access"],
  flow: "loopback",
  timeout: 20,
  quiet: true,
  ...extra,
});
const authorizations = (): number => idp.counts.get("/auth") ?? 0;

test("20 login() calls at once with nothing saved: one browser tab, one authorization request, one token for all", async () => {
  isolateCache();
  const before = authorizations();
  let opened = 0;
  const ua = new ScriptedUserAgent();
  const openBrowser = (url: string): void => {
    opened++;
    void ua.open(url);
  };
  const all = await Promise.all(Array.from({ length: 20 }, () => login(config({ openBrowser }))));
  assert.equal(opened, 1, "one browser tab");
  assert.equal(authorizations() - before, 1, "one authorization request");
  assert.equal(new Set(all.map((h) => h.Authorization)).size, 1, "the same token for every caller");
});

test("a session() and a login() in one cell share the sign-in", async () => {
  isolateCache();
  let opened = 0;
  const ua = new ScriptedUserAgent();
  const openBrowser = (url: string): void => {
    opened++;
    void ua.open(url);
  };
  const [s, headers] = await Promise.all([session(config({ openBrowser })), login(config({ openBrowser }))]);
  assert.equal(opened, 1);
  assert.deepEqual(await s.headers(), headers);
});

test("two processes at once: the second follows the sign-in under way in the first (its cell says so, with its own link), opens no tab, and gets what the first saved", async () => {
  const cacheDir = isolateCache();
  const script = new URL("./support/cache-child.js", import.meta.url).pathname;
  const arg = JSON.stringify({ ...config({ quiet: false }), api: `${idp.issuer}/api/me`, cacheDir });
  const start = (mode: string) => {
    const child = spawn(process.execPath, [script, arg, mode], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk));
    const ready = new Promise<void>((resolve) => child.stdout.on("data", () => out.includes("ready\n") && resolve()));
    const done = new Promise<{ result: { token?: string; browserOpened: boolean; error?: string }; err: string }>((resolve) =>
      child.once("exit", () => resolve({ result: JSON.parse(out.split("\n").find((l) => l.startsWith("{")) ?? "{}"), err })),
    );
    return { child, ready, done };
  };
  const before = authorizations();
  // The first signs in, slowly (the person finds the tab after 1.5 s); the second starts meanwhile,
  // and would fail if it opened a browser.
  const first = start("interactive-slow");
  const second = start("");
  await Promise.all([first.ready, second.ready]);
  first.child.stdin.end("go\n");
  await new Promise((resolve) => setTimeout(resolve, 500));
  second.child.stdin.end("go\n");
  const [a, b] = await Promise.all([first.done, second.done]);
  assert.ok(a.result.token, `the first signed in: ${JSON.stringify(a.result)} ${a.err}`);
  assert.equal(b.result.error, undefined, `the second did not fail: ${JSON.stringify(b.result)} ${b.err}`);
  assert.equal(b.result.token, a.result.token, "the second uses the first one's sign-in");
  assert.equal(b.result.browserOpened, false, "no second tab");
  assert.equal(authorizations() - before, 1, "one authorization request");
  assert.match(b.err, /under way in another kernel \(process \d+/, "its cell says why it waits");
  assert.match(b.err, /Sign in at: http:\/\/127\.0\.0\.1:\d+\//, "and shows its own link as a way out");
});

test("the way out: a second process whose person uses its own link signs in with it, while the first one's tab was never used", async () => {
  const cacheDir = isolateCache();
  const script = new URL("./support/cache-child.js", import.meta.url).pathname;
  const arg = JSON.stringify({ ...config({ quiet: false }), api: `${idp.issuer}/api/me`, cacheDir });
  // The first one's browser cannot open ("a browser was needed"): it waits for a sign-in that never comes.
  const first = spawn(process.execPath, [script, arg, ""], { stdio: ["pipe", "ignore", "ignore"] });
  const second = spawn(process.execPath, [script, arg, ""], { stdio: ["pipe", "pipe", "pipe"] });
  after(() => void first.kill("SIGKILL"));
  first.stdin.end("go\n");
  await new Promise((resolve) => setTimeout(resolve, 800));
  second.stdin.end("go\n");
  let err = "";
  let out = "";
  second.stdout.on("data", (chunk: Buffer) => (out += chunk));
  const link = await new Promise<string>((resolve) =>
    second.stderr.on("data", (chunk: Buffer) => {
      err += chunk;
      const found = /under way in another kernel[\s\S]*Sign in at: (\S+)/.exec(err);
      if (found) resolve(found[1]!);
    }),
  );
  // The cell's link leads to the provider's sign-in page (a redirect), where the person signs in.
  const page = (await fetch(link, { redirect: "manual" })).headers.get("location")!;
  await new ScriptedUserAgent().visit(page);
  await new Promise((resolve) => second.once("exit", resolve));
  const result = JSON.parse(out.split("\n").find((l) => l.startsWith("{"))!) as { status?: number; error?: string; browserOpened: boolean };
  assert.equal(result.status, 200, `${JSON.stringify(result)} ${err}`);
  assert.equal(result.browserOpened, false);
});
