import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LoginError } from "../errors.js";
import type { ProfileSettings, ProfileSource } from "../options/types.js";
import { defaultConfigDir, ensureOwnerDir, isSymlink, loadWriter, ownerJsonFile, tightenFileMode } from "./files.js";

/** The settings file `profiles.json` next to the token cache: `{ "profiles": { "<name>": settings } }`. */
export const PROFILES_FILE = "profiles.json";

/** The settings file next to the token cache, as resolveConfig reads profiles. */
export const savedProfiles: ProfileSource = {
  folder: (cacheDir) => cacheDir ?? defaultConfigDir(),
  read: (folder) => readProfiles(folder),
  path: (folder) => join(folder, PROFILES_FILE),
};

/** All saved profiles in `dir`, or none when the file does not exist. */
export function readProfiles(dir: string): Record<string, ProfileSettings> {
  const path = join(dir, PROFILES_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new LoginError("INVALID_CONFIG", `Could not read the profiles file ${path} (${(cause as Error).message}).`, { cause });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new LoginError("INVALID_CONFIG", `The profiles file ${path} is not valid JSON: fix it, or remove it and save your profiles again.`, { cause });
  }
  const profiles = (data as { profiles?: unknown })?.profiles;
  return profiles && typeof profiles === "object" ? (profiles as Record<string, ProfileSettings>) : {};
}

/** Rewrites the settings file with `change` applied; owner-only, like the cache (it may hold a secret). */
export async function writeProfiles(dir: string, change: (profiles: Record<string, ProfileSettings>) => Record<string, ProfileSettings>): Promise<void> {
  const path = join(dir, PROFILES_FILE);
  ensureOwnerDir(dir, false);
  if (isSymlink(path)) {
    throw new LoginError("INVALID_CONFIG", `${path} is a symbolic link; profiles are never written through a link. Replace it with a plain file.`);
  }
  tightenFileMode(path);
  await loadWriter();
  ownerJsonFile<{ profiles: Record<string, ProfileSettings> }>(dir, PROFILES_FILE.replace(/\.json$/, "")).set("profiles", change(readProfiles(dir)));
}
