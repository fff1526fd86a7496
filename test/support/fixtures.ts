// Per-file fixtures: the real demo provider (oidc-provider, in this process) shared by a test
// file's tests, and an isolated token cache directory per test.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDemoIdp } from "../../demo/idp.js";
import { forgetMetadata } from "../../src/protocol/metadata-memo.js";

export type DemoIdp = Awaited<ReturnType<typeof startDemoIdp>>;

let shared: Promise<DemoIdp> | undefined;
/** One real oidc-provider per test file (starting one costs ~100 ms for the RSA key). */
export function demoIdp(): Promise<DemoIdp> {
  shared ??= startDemoIdp();
  return shared;
}

export async function closeDemoIdp(): Promise<void> {
  if (shared) await (await shared).close();
  shared = undefined;
}

/**
 * A fresh, empty token cache directory for each test of this file (through $TSLAB_OAUTH_CACHE_DIR,
 * the way a user would move it), so that one test's sign-in is never another's cache hit. Removed
 * when the process ends. Returns the directory.
 */
export function isolateCache(): string {
  // Each test discovers afresh: a server started by an earlier test may have had the same port.
  forgetMetadata();
  const dir = mkdtempSync(join(tmpdir(), "tslab-oauth-cache-"));
  process.env.TSLAB_OAUTH_CACHE_DIR = dir;
  createdCacheDirs.push(dir);
  return dir;
}
const createdCacheDirs: string[] = [];
process.once("exit", () => {
  for (const dir of createdCacheDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Moves the expiry of every sign-in saved in `dir` into the past (what an hour of the notebook doing
 * other things does), owner-only as the library writes it. Returns the saved entries.
 */
export function expireSavedSignIns(dir: string): { expiresAt: number; refreshToken?: string }[] {
  const file = join(dir, "tokens.json");
  const data = JSON.parse(readFileSync(file, "utf8")) as Record<string, { expiresAt: number; refreshToken?: string }>;
  for (const entry of Object.values(data)) entry.expiresAt = Date.now() - 1000;
  writeFileSync(file, JSON.stringify(data), { mode: 0o600 });
  return Object.values(data);
}
