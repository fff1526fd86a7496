// Faults in the config folder (#28 §4), with real file systems and real processes: a full disk
// (a small tmpfs mounted here, as root, as CI runs), a writer killed with SIGKILL between writing
// its temporary copy and renaming it, and a folder the process may not write to (a child that
// drops to the user nobody). The sign-in works each time; nothing is left behind, nothing blocks.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { login, type LoginConfig } from "../src/index.js";
import { captureOutput } from "./support/capture.js";
import { closeDemoIdp, demoIdp, expireSavedSignIns, isolateCache } from "./support/fixtures.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const isRoot = process.getuid?.() === 0;
// Outside CI a developer without root skips these; in CI (root) they always run.
const needsRoot = !isRoot && !process.env.CI ? "needs root (mounts a tmpfs, drops to nobody)" : false;
const CHILD = fileURLToPath(new URL("./support/fault-child.js", import.meta.url));
let issuer = "";
before(async () => {
  issuer = (await demoIdp()).issuer;
});
after(closeDemoIdp);
const config = (extra: Partial<LoginConfig> = {}): LoginConfig => ({
  issuer,
  clientId: "tslab-demo",
  scopes: ["openid", "profile", "offline_access"],
  flow: "loopback",
  timeout: 20,
  openBrowser: new ScriptedUserAgent().open,
  ...extra,
});

test(
  "a full disk: the sign-in works, the saved file stays byte for byte, and no empty tokens.lock or temporary copy is left",
  { skip: needsRoot },
  async (t) => {
    assert.ok(isRoot, "CI runs as root: these tests mount a tmpfs");
    const dir = mkdtempSync(join(tmpdir(), "tslab-oauth-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", dir]);
    t.after(() => {
      execFileSync("umount", [dir]);
      rmSync(dir, { recursive: true, force: true });
    });
    const cacheDir = join(dir, "tslab-oauth");
    await login(config({ cacheDir }));
    expireSavedSignIns(cacheDir);
    const saved = readFileSync(join(cacheDir, "tokens.json"));
    // Fill the file system to the last block.
    try {
      writeFileSync(join(dir, "filler"), Buffer.alloc(1024 * 1024));
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, "ENOSPC");
    }
    const { value: headers, stderr } = await captureOutput(() => login(config({ cacheDir, openBrowser: () => assert.fail("the refresh does") })));
    assert.match(headers.Authorization, /^Bearer /, "the refreshed token is returned");
    assert.match(stderr, new RegExp(`Could not lock the token cache in ${cacheDir} \\(ENOSPC\\)`), "the warning names the folder");
    assert.match(stderr, /Could not save the sign-in/);
    assert.deepEqual(readFileSync(join(cacheDir, "tokens.json")), saved, "the saved file is intact");
    assert.deepEqual(readdirSync(cacheDir).sort(), ["tokens.json"], "no tokens.lock, no temporary copy");

    // Space again: the next save neither waits for nor breaks a lock.
    rmSync(join(dir, "filler"));
    const { stderr: later } = await captureOutput(() => login(config({ cacheDir, forceLogin: true })));
    assert.equal(later.match(/Could not|abandoned/g), null);
    assert.notDeepEqual(readFileSync(join(cacheDir, "tokens.json")), saved, "saved again");
  },
);

test("a writer killed (SIGKILL) between its temporary copy and the rename: the copy, which holds tokens, is removed by a later write once it is old", async () => {
  const cacheDir = isolateCache();
  const child = spawn(process.execPath, [CHILD, "stall-before-rename", JSON.stringify({ ...config(), openBrowser: undefined, cacheDir })], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => String(chunk).includes("written") && resolve());
    child.once("exit", () => reject(new Error("the child ended before writing")));
  });
  child.kill("SIGKILL");
  await new Promise((resolve) => child.once("exit", resolve));
  const temps = readdirSync(cacheDir).filter((name) => name.includes(".tmp-"));
  assert.equal(temps.length, 1, "the killed writer left its temporary copy");
  const temp = join(cacheDir, temps[0]!);
  assert.match(readFileSync(temp, "utf8"), /"accessToken"/, "and it holds tokens");
  assert.equal((statSync(temp).mode & 0o777).toString(8), "600");

  // A recent copy may be another writer's, under way: kept.
  await login(config({ cacheDir }));
  assert.ok(readdirSync(cacheDir).includes(temps[0]!), "a copy younger than a minute is left alone");
  // Old: abandoned, removed at the next write.
  const old = new Date(Date.now() - 5 * 60_000);
  utimesSync(temp, old, old);
  await login(config({ cacheDir, forceLogin: true }));
  assert.deepEqual(
    readdirSync(cacheDir).filter((name) => name.includes(".tmp-")),
    [],
  );
});

test(
  "a folder this process may not write to: a warning, and the event loop is never blocked (conf's writer would spin for a second)",
  { skip: needsRoot },
  async () => {
    assert.ok(isRoot, "CI runs as root: the child drops to nobody");
    const readOnly = mkdtempSync(join(tmpdir(), "tslab-oauth-ro-")); // root's, 0700 → 0755: nobody reads, never writes
    execFileSync("chmod", ["755", readOnly]);
    const warm = mkdtempSync(join(tmpdir(), "tslab-oauth-warm-"));
    const child = spawn(process.execPath, [CHILD, "event-loop", JSON.stringify({ ...config(), openBrowser: undefined, cacheDir: readOnly }), warm], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += String(chunk)));
    const code = await new Promise((resolve) => child.once("exit", resolve));
    assert.equal(code, 0, out);
    const result = JSON.parse(out.trim().split("\n").pop()!) as { ok: boolean; longestStallMs: number; warnings: string };
    assert.ok(result.ok, "signed in");
    assert.match(result.warnings, /Could not save the sign-in .*\(EACCES\)/);
    assert.ok(result.longestStallMs < 500, `the event loop stalled for ${result.longestStallMs} ms`);
    assert.deepEqual(readdirSync(readOnly), []);
  },
);
