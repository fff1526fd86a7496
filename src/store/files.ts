import { chmodSync, lstatSync, mkdirSync, statSync } from "node:fs";
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

export type JsonFile<T extends Record<string, unknown>> = Conf<T>;
type ConfClass = typeof Conf;
let confClass: ConfClass | undefined;

/** conf, loaded on first write: a warm login only reads files and never pays for it. */
export async function loadWriter(): Promise<void> {
  confClass ??= (await import("conf")).default;
}

/** conf's store for `<dir>/<name>.json`, owner-only, keys taken literally. Call {@link loadWriter} first. */
export function ownerJsonFile<T extends Record<string, unknown>>(dir: string, name: string): JsonFile<T> {
  if (!confClass) throw new Error("the file writer was not loaded (a write outside the lock)");
  return new confClass<T>({
    cwd: dir,
    configName: name,
    projectName: "tslab-oauth",
    configFileMode: 0o600,
    accessPropertiesByDotNotation: false,
    clearInvalidConfig: false,
  });
}
