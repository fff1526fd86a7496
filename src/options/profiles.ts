import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultConfigDir, isSymlink, tightenFileMode } from "../store/cache.js";
import { parseCacheDir, resolveConfig, type LoginConfig } from "./config.js";
import { LoginError } from "../errors.js";

/**
 * Profiles: the settings of a client kept on the user's machine instead of in the notebook, so a
 * shared notebook says only `login({ profile: "work-gh" })`. A field comes from, in order: the
 * call, the user's settings file (`profiles.json`, owner-only, next to the token cache), the
 * environment (`TSLAB_OAUTH_<PROFILE>_<FIELD>`).
 */
export const PROFILE_FIELDS = [
  "issuer",
  "authorizationEndpoint",
  "tokenEndpoint",
  "revocationEndpoint",
  "clientId",
  "clientSecret",
  "tokenEndpointAuthMethod",
  "scopes",
  "extraParams",
  "redirectUri",
  "pkceMethod",
] as const satisfies readonly (keyof LoginConfig)[];
export type ProfileField = (typeof PROFILE_FIELDS)[number];
export type ProfileSettings = Partial<Pick<LoginConfig, ProfileField>>;
export type FieldSource = "call" | "settings" | "environment";

export const PROFILES_FILE = "profiles.json";

/** `TSLAB_OAUTH_WORK_GH_CLIENT_ID` for profile "work-gh" and field clientId. */
export function profileEnvName(profile: string, field: ProfileField): string {
  const key = profile.toUpperCase().replace(/[^A-Z0-9]+/g, "_").replace(/^_|_$/g, "");
  return `TSLAB_OAUTH_${key}_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

function fromEnvironment(profile: string, env: NodeJS.ProcessEnv): Partial<ProfileSettings> {
  const out: Record<string, unknown> = {};
  for (const field of PROFILE_FIELDS) {
    const value = env[profileEnvName(profile, field)];
    if (value === undefined || value === "") continue;
    if (field === "extraParams") {
      // key=value pairs separated by "&", as in a query string.
      out[field] = Object.fromEntries(new URLSearchParams(value));
    } else {
      out[field] = value;
    }
  }
  return out as Partial<ProfileSettings>;
}

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

export interface ProfileResolution {
  config: LoginConfig;
  sources: Partial<Record<ProfileField, FieldSource>>;
  /** Whether the settings file or the environment had anything for this profile. */
  found: boolean;
}

/** Merges a named profile into the call's options: call > settings file > environment. */
export function applyProfile(config: LoginConfig, dir: string, env: NodeJS.ProcessEnv = process.env): ProfileResolution {
  const sources: Partial<Record<ProfileField, FieldSource>> = {};
  for (const field of PROFILE_FIELDS) if (config[field] !== undefined) sources[field] = "call";
  if (!config.profile) return { config, sources, found: false };
  const saved = readProfiles(dir)[config.profile];
  const fromEnv = fromEnvironment(config.profile, env);
  const merged: Record<string, unknown> = { ...config };
  for (const field of PROFILE_FIELDS) {
    if (merged[field] !== undefined) continue;
    if (saved && saved[field] !== undefined) {
      merged[field] = saved[field];
      sources[field] = "settings";
    } else if (fromEnv[field] !== undefined) {
      merged[field] = fromEnv[field];
      sources[field] = "environment";
    }
  }
  return { config: merged as unknown as LoginConfig, sources, found: saved !== undefined || Object.keys(fromEnv).length > 0 };
}

/** The message for a profile that is named but set nowhere: what to set, and how, once. */
export function missingProfileError(profile: string, dir: string, missing: string): LoginError {
  const id = profileEnvName(profile, "clientId");
  const issuer = profileEnvName(profile, "issuer");
  const secret = profileEnvName(profile, "clientSecret");
  return new LoginError(
    "PROFILE_NOT_FOUND",
    `The profile ${JSON.stringify(profile)} is not set up on this machine (${missing}). Set it up once, outside this notebook, either:\n` +
      `• in a terminal: npx tslab-oauth profile ${profile} --issuer https://id.example.com --client-id YOUR_CLIENT_ID (add --client-secret - to type a secret), or\n` +
      `• in a scratch cell you do not save: await saveProfile(${JSON.stringify(profile)}, { issuer: "https://id.example.com", clientId: "YOUR_CLIENT_ID" }), or\n` +
      `• in the environment of the Jupyter server: ${issuer}, ${id} (and ${secret} if the client has a secret).\n` +
      `Profiles are kept in ${join(dir, PROFILES_FILE)} (readable by you only). Then run this cell again.`,
  );
}

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
  const resolved = resolveConfig({ ...settings, cacheDir: options.cacheDir } as LoginConfig);
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

async function writeProfiles(dir: string, change: (profiles: Record<string, ProfileSettings>) => Record<string, ProfileSettings>): Promise<void> {
  const path = join(dir, PROFILES_FILE);
  // Owner-only, like the cache: the settings may hold a client secret.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (isSymlink(path)) {
    throw new LoginError("INVALID_CONFIG", `${path} is a symbolic link; profiles are never written through a link. Replace it with a plain file.`);
  }
  tightenFileMode(path);
  const { default: Conf } = await import("conf");
  const store = new Conf<{ profiles: Record<string, ProfileSettings> }>({
    cwd: dir,
    configName: PROFILES_FILE.replace(/\.json$/, ""),
    projectName: "tslab-oauth",
    configFileMode: 0o600,
    accessPropertiesByDotNotation: false,
    clearInvalidConfig: false,
  });
  store.set("profiles", change(readProfiles(dir)));
}
