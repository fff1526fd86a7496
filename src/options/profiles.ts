import { LoginError } from "../errors.js";
import type { LoginConfig, ProfileField, ProfileSettings } from "./types.js";

/**
 * Profiles: the settings of a client kept on the user's machine instead of in the notebook, so a
 * shared notebook says only `login({ profile: "work-gh" })`. A field comes from, in order: the
 * call, the user's settings file (`profiles.json`, owner-only, next to the token cache), the
 * environment (`TSLAB_OAUTH_<PROFILE>_<FIELD>`).
 */
export const PROFILE_FIELDS = [
  "resource",
  "grant",
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
  "par",
  "dpop",
  "store",
] as const satisfies readonly ProfileField[];
export type FieldSource = "call" | "settings" | "environment";

/** `TSLAB_OAUTH_WORK_GH_CLIENT_ID` for profile "work-gh" and field clientId. */
export function profileEnvName(profile: string, field: ProfileField): string {
  const key = profile
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, "_")
    .replace(/^_|_$/g, "");
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
    } else if (field === "par" || field === "dpop") {
      // Yes/no fields: anything else is passed on as is, and refused by the option's check.
      const flag = value.trim().toLowerCase();
      out[field] = ["1", "true", "yes"].includes(flag) ? true : ["0", "false", "no"].includes(flag) ? false : value;
    } else {
      out[field] = value;
    }
  }
  return out as Partial<ProfileSettings>;
}

export interface ProfileResolution {
  config: LoginConfig;
  sources: Partial<Record<ProfileField, FieldSource>>;
  /** Whether the settings file or the environment had anything for this profile. */
  found: boolean;
}

/** Merges a named profile into the call's options: call > settings file > environment. */
export function applyProfile(config: LoginConfig, saved: Record<string, ProfileSettings>, env: NodeJS.ProcessEnv = process.env): ProfileResolution {
  const sources: Partial<Record<ProfileField, FieldSource>> = {};
  for (const field of PROFILE_FIELDS) if (config[field] !== undefined) sources[field] = "call";
  if (!config.profile) return { config, sources, found: false };
  const settings = saved[config.profile];
  const fromEnv = fromEnvironment(config.profile, env);
  const merged: Record<string, unknown> = { ...config };
  for (const field of PROFILE_FIELDS) {
    if (merged[field] !== undefined) continue;
    if (settings && settings[field] !== undefined) {
      merged[field] = settings[field];
      sources[field] = "settings";
    } else if (fromEnv[field] !== undefined) {
      merged[field] = fromEnv[field];
      sources[field] = "environment";
    }
  }
  return { config: merged as unknown as LoginConfig, sources, found: settings !== undefined || Object.keys(fromEnv).length > 0 };
}

/** The message for a profile that is named but set nowhere: what to set, and how, once, in words for where the call runs. */
export function missingProfileError(profile: string, settingsPath: string, missing: string, inNotebook: boolean): LoginError {
  const id = profileEnvName(profile, "clientId");
  const issuer = profileEnvName(profile, "issuer");
  const secret = profileEnvName(profile, "clientSecret");
  const ways = [
    `• in a terminal: npx tslab-oauth profile ${profile} --issuer https://id.example.com --client-id YOUR_CLIENT_ID (add --client-secret - to type a secret)`,
    ...(inNotebook
      ? [`• in a scratch cell you do not save: await saveProfile(${JSON.stringify(profile)}, { issuer: "https://id.example.com", clientId: "YOUR_CLIENT_ID" })`]
      : []),
    `• in the environment${inNotebook ? " of the Jupyter server" : ""}: ${issuer}, ${id} (and ${secret} if the client has a secret)`,
  ];
  return new LoginError(
    "PROFILE_NOT_FOUND",
    `The profile ${JSON.stringify(profile)} is not set up on this machine (${missing}). Set it up once${inNotebook ? ", outside this notebook" : ""}, either:\n` +
      `${ways.join(", or\n")}.\n` +
      `Profiles are kept in ${settingsPath} (readable by you only). Then run ${inNotebook ? "this cell" : "the command"} again.`,
  );
}
