import { randomBytes } from "node:crypto";
import { closeSync, linkSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";

/**
 * A lock file shared by every process of this user: created with O_EXCL, it holds the owner's pid,
 * host and a random token. A lock whose owner died (same host, pid gone) or that is older than
 * `staleMs` is broken, so a crashed kernel never blocks the others for long.
 */
export interface LockOptions {
  /** A lock older than this is considered abandoned. */
  staleMs: number;
  signal?: AbortSignal | undefined;
  /** First poll interval; doubles up to 100 ms. @default 5 */
  pollMs?: number;
}

interface LockContent {
  pid: number;
  host: string;
  token: string;
  at: number;
}

const HOST = hostname();

/** Resolves to the release function once the lock is held. Throws the signal's reason on abort. */
export async function acquireLock(path: string, options: LockOptions): Promise<() => void> {
  const token = randomBytes(12).toString("hex");
  let wait = options.pollMs ?? 5;
  for (;;) {
    options.signal?.throwIfAborted();
    if (tryCreate(path, token)) return () => release(path, token);
    if (isStale(path, options.staleMs)) {
      breakLock(path, options.staleMs);
      continue;
    }
    await sleep(wait, options.signal);
    wait = Math.min(wait * 2, 100);
  }
}

/**
 * The lock if it is free (or stale) now, else undefined, without waiting: a sign-in under way in
 * another process is followed, not queued behind (api/one-sign-in.ts). `holder` says whose it is.
 */
export function tryAcquireLock(path: string, staleMs: number): (() => void) | undefined {
  const token = randomBytes(12).toString("hex");
  for (let attempt = 0; attempt < 2; attempt++) {
    if (tryCreate(path, token)) return () => release(path, token);
    if (!isStale(path, staleMs)) return undefined;
    breakLock(path, staleMs);
  }
  return undefined;
}

/** Who holds the lock at `path` (pid, host, since when), while it is held and not stale. */
export function lockHolder(path: string, staleMs: number): { pid: number; host: string; at: number } | undefined {
  const content = readLock(path);
  return content && !isStale(path, staleMs) ? { pid: content.pid, host: content.host, at: content.at } : undefined;
}

function tryCreate(path: string, token: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    const content: LockContent = { pid: process.pid, host: HOST, token, at: Date.now() };
    writeSync(fd, JSON.stringify(content));
  } catch (error) {
    // A full disk creates the file but not its content: an empty lock would make the next writer
    // wait until it counts as abandoned. Nothing is left behind.
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {
      // removed by someone else: nothing of ours is left
    }
    throw error;
  }
  closeSync(fd);
  return true;
}

function readLock(path: string): LockContent | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<LockContent>;
    if (typeof parsed.pid === "number" && typeof parsed.host === "string" && typeof parsed.token === "string") return parsed as LockContent;
  } catch {
    // Missing, or half-written by an owner that is writing it right now (or died doing so).
  }
  return undefined;
}

function isStale(path: string, staleMs: number): boolean {
  let mtimeMs: number;
  try {
    const stat = lstatSync(path);
    // Not a lock file we write (a symbolic link, dangling or not): never followed, always broken.
    if (!stat.isFile()) return true;
    mtimeMs = stat.mtimeMs;
  } catch {
    return false; // released meanwhile: try again
  }
  const age = Date.now() - mtimeMs;
  if (age > staleMs) return true;
  const content = readLock(path);
  // An unreadable lock older than a second was left by an owner that died while writing it.
  if (!content) return age > 1000;
  return content.host === HOST && !processAlive(content.pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Moves the stale lock aside (atomic), so that two processes breaking it at once cannot both win.
 * Between the staleness check and the rename, the owner may have released it and a live process
 * taken it: such a fresh lock is put back (link fails if the path was taken again meanwhile).
 */
function breakLock(path: string, staleMs: number): void {
  const aside = `${path}.${randomBytes(6).toString("hex")}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else broke or released it first
  }
  try {
    if (!isStale(aside, staleMs)) linkSync(aside, path);
  } catch {
    // the path was taken again: that owner holds it
  }
  try {
    unlinkSync(aside);
  } catch {
    // already gone
  }
}

function release(path: string, token: string): void {
  // Only remove our own lock: if it was broken as stale, another process may hold it now.
  if (readLock(path)?.token !== token) return;
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
