import { accessSync, chmodSync, constants, lstatSync, mkdirSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type Conf from "conf";
import envPaths from "env-paths";

/**
 * The user's own files: the config directory (token cache, profiles, lock) and the rules every
 * file there follows. Directory 0700, files 0600, never written through a symbolic link, written
 * by conf (atomic rename).
 */

/** The user's config directory for tslab-oauth (`~/.config/tslab-oauth` on Linux). */
export function defaultConfigDir(): string {
  return envPaths("tslab-oauth", { suffix: "" }).config;
}

/**
 * Creates `dir` with mode 0700; with `tighten` (a directory we own, not one the user named), also
 * takes group and world access away from an existing one.
 */
export function ensureOwnerDir(dir: string, tighten: boolean): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (tighten && (statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/**
 * A file copied or created by hand may be readable by others: tighten it to 0600, never through a
 * symbolic link (which could point at someone else's file). A missing file is left to its writer.
 */
export function tightenFileMode(path: string): void {
  try {
    const stat = lstatSync(path);
    if (stat.isFile() && (stat.mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch {
    // not there yet: conf creates it with 0600
  }
}

export function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** An owner-only JSON file, written whole (atomic rename) by conf. */
export interface JsonFile<T extends Record<string, unknown>> {
  set<K extends keyof T & string>(key: K, value: T[K]): void;
  delete(key: keyof T & string): void;
}
type ConfClass = typeof Conf;
let confClass: ConfClass | undefined;

/** conf, loaded on first write: a warm login only reads files and never pays for it. */
export async function loadWriter(): Promise<void> {
  confClass ??= (await import("conf")).default;
}

/** conf's store for `<dir>/<name>.json`, owner-only, keys taken literally. Call {@link loadWriter} first. */
export function ownerJsonFile<T extends Record<string, unknown>>(dir: string, name: string): JsonFile<T> {
  if (!confClass) throw new Error("the file writer was not loaded (a write outside the lock)");
  const conf = new confClass<T>({
    cwd: dir,
    configName: name,
    projectName: "tslab-oauth",
    configFileMode: 0o600,
    accessPropertiesByDotNotation: false,
    clearInvalidConfig: false,
  });
  const file = `${name}.json`;
  return {
    set: (key, value) => {
      beforeWrite(dir, file);
      conf.set(key, value);
    },
    delete: (key) => {
      beforeWrite(dir, file);
      conf.delete(key);
    },
  };
}

/** A temporary file of conf's writer (atomically): `<file>.tmp-<10 digits><6 hex>`. */
const TEMP = /^(.+)\.tmp-\d{10}[0-9a-f]{6}$/;
/** A temporary file older than this was left by a writer that died between writing and renaming it. */
const ABANDONED_TEMP_MS = 60_000;

/**
 * Before each write: a folder this process may not write to fails at once. conf's writer would
 * retry EACCES and EPERM in a synchronous loop for a second, blocking the kernel's event loop.
 * And the temporary copies of `file` that a killed writer left behind are removed: they hold
 * tokens. Only ours: the same owner, the writer's name pattern, and older than {@link ABANDONED_TEMP_MS}
 * (a live writer renames its copy within milliseconds).
 */
function beforeWrite(dir: string, file: string): void {
  accessSync(dir, constants.W_OK);
  removeAbandonedTemps(dir, file);
}

function removeAbandonedTemps(dir: string, file: string): void {
  const now = Date.now();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    if (TEMP.exec(name)?.[1] !== file) continue;
    const path = join(dir, name);
    try {
      const stat = lstatSync(path);
      if (stat.isFile() && (uid === undefined || stat.uid === uid) && now - stat.mtimeMs > ABANDONED_TEMP_MS) unlinkSync(path);
    } catch {
      // gone already, or not ours to remove
    }
  }
}
