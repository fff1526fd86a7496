import { join } from "node:path";
import { LoginError } from "../errors.js";
import { parseCacheDir } from "../options/parse.js";
import { PROFILE_FIELDS } from "../options/profiles.js";
import { resolveConfig } from "../options/resolve.js";
import type { LoginConfig, ProfileSettings } from "../options/types.js";
import { defaultConfigDir } from "../store/files.js";
import { PROFILES_FILE, savedProfiles, writeProfiles } from "../store/profiles.js";

export interface SaveProfileOptions {
  /** Directory of the settings (and token cache). @default `$TSLAB_OAUTH_CACHE_DIR`, else the user's config directory */
  cacheDir?: string;
}

/**
 * Saves a profile on this machine (`profiles.json`, mode 0600, next to the token cache), so that
 * notebooks can say `login({ profile: name })`. Run it once in a terminal (`npx tslab-oauth
 * profile ...`) or in a scratch cell you do not save: the settings may hold a client secret.
 * Replaces a profile of the same name. Resolves to the file's path.
 *
 * @example
 * ```ts
 * await saveProfile("work-gh", { ...presets.github(), clientId: "Iv1.0123", clientSecret: "..." });
 * ```
 */
export async function saveProfile(name: string, settings: ProfileSettings, options: SaveProfileOptions = {}): Promise<string> {
  if (typeof name !== "string" || name.trim() === "") throw new LoginError("INVALID_CONFIG", 'A profile needs a name, e.g. saveProfile("work", { ... }).');
  const unknown = Object.keys(settings ?? {}).filter((key) => !(PROFILE_FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    throw new LoginError("INVALID_CONFIG", `A profile holds only ${PROFILE_FIELDS.join(", ")}; not ${unknown.join(", ")}.`);
  }
  // A saved profile must be complete and valid on its own: mistakes show now, not in a notebook.
  const resolved = resolveConfig({ ...settings, cacheDir: options.cacheDir } as LoginConfig, savedProfiles);
  const dir = resolved.cacheDir ?? defaultConfigDir();
  await writeProfiles(dir, (profiles) => ({ ...profiles, [name]: settings }));
  return join(dir, PROFILES_FILE);
}

/** Removes a saved profile; resolves to whether there was one. Its cached tokens stay (see logout()). */
export async function removeProfile(name: string, options: SaveProfileOptions = {}): Promise<boolean> {
  const dir = parseCacheDir(options.cacheDir) ?? defaultConfigDir();
  let existed = false;
  await writeProfiles(dir, (profiles) => {
    existed = name in profiles;
    const { [name]: _removed, ...rest } = profiles;
    return rest;
  });
  return existed;
}
