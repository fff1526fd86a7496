// `tslab-oauth token | status | logout`: the notebook's saved sign-ins from a terminal, for `curl`
// and scripts: `curl -H "$(npx tslab-oauth token --profile work --header)" https://api...`.
// Only the token goes to stdout; the sign-in link and progress go to stderr, as login() prints them
// outside a notebook.
import { login } from "../api/login.js";
import { LoginError } from "../errors.js";
import { logout } from "../api/logout.js";
import type { LoginConfig } from "../options/types.js";
import { parseCacheDir } from "../options/parse.js";
import { resolveConfig } from "../options/resolve.js";
import { savedProfiles } from "../store/profiles.js";
import { openCacheFile, type StoredEntry } from "../store/cache.js";
import { isSealedEntry } from "../store/entry.js";
import { storeName } from "../store/keychain.js";
import { RegistrationFile } from "../store/registrations.js";
import { formatDuration } from "../util/text.js";

export interface SelectionFlags {
  profile?: string | undefined;
  resource?: string | undefined;
  issuer?: string | undefined;
  "client-id"?: string | undefined;
  scope?: string | undefined;
  scopes?: string | undefined;
  "authorization-endpoint"?: string | undefined;
  "token-endpoint"?: string | undefined;
  "revocation-endpoint"?: string | undefined;
  "cache-dir"?: string | undefined;
  store?: string | undefined;
  grant?: string | undefined;
  dpop?: boolean | undefined;
}

/** The same options login() gets, hence the same saved sign-in (the same cache key). */
export function selection(flags: SelectionFlags): LoginConfig {
  const config: Record<string, unknown> = {};
  const set = (key: keyof LoginConfig, value: string | undefined): void => {
    if (value !== undefined) config[key] = value;
  };
  set("profile", flags.profile);
  set("resource", flags.resource);
  set("issuer", flags.issuer);
  set("clientId", flags["client-id"]);
  set("scopes", flags.scope ?? flags.scopes);
  set("authorizationEndpoint", flags["authorization-endpoint"]);
  set("tokenEndpoint", flags["token-endpoint"]);
  set("revocationEndpoint", flags["revocation-endpoint"]);
  set("cacheDir", flags["cache-dir"]);
  set("store", flags.store);
  set("grant", flags.grant);
  if (flags.dpop) config.dpop = true;
  return config as LoginConfig;
}

/** Prints a valid access token (or the whole header) for the selected sign-in, and nothing else. */
export async function token(
  flags: SelectionFlags & { header?: boolean | undefined; flow?: string | undefined; timeout?: string | undefined; "redirect-uri"?: string | undefined },
): Promise<number> {
  const config: LoginConfig = { ...selection(flags) };
  // The sign-in's own options, as login() takes them (the messages that name `flow: "loopback"` mean `--flow loopback` here).
  if (flags.flow !== undefined) config.flow = flags.flow;
  if (flags["redirect-uri"] !== undefined) config.redirectUri = flags["redirect-uri"];
  if (flags.timeout !== undefined) {
    const seconds = Number(flags.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new LoginError("INVALID_CONFIG", "`--timeout` takes a number of seconds, e.g. `--timeout 300`.");
    config.timeout = seconds;
  }
  if (resolveConfig(config, savedProfiles).dpop) {
    throw new LoginError(
      "INVALID_CONFIG",
      "This sign-in is DPoP-bound (`dpop: true`): its token is useless without a proof signed with its key for each request, so `tslab-oauth token` does not print one. Use `session()` in a notebook or script (`api.fetch(url)`, or `api.headers(method, url)` for another HTTP client).",
    );
  }
  const headers = await login(config);
  process.stdout.write(flags.header ? `Authorization: ${headers.Authorization}\n` : `${headers.Authorization.slice("Bearer ".length)}\n`);
  return 0;
}

/** Lists the saved sign-ins: what they are for, who, until when; never a token. */
export async function status(flags: SelectionFlags): Promise<number> {
  const warn = (message: string): boolean => process.stderr.write(`tslab-oauth: warning: ${message}\n`);
  const cache = await openCacheFile(parseCacheDir(flags["cache-dir"]));
  const entries = cache.entries(warn);
  if (entries.length === 0) process.stdout.write(`No saved sign-ins in ${cache.path}.\n`);
  for (const entry of entries) process.stdout.write(`${describe(entry, cache.path)}\n`);
  // Clients registered for sign-ins by `resource` (RFC 7591): never their secret.
  for (const client of new RegistrationFile(cache.dir).all(warn)) {
    process.stdout.write(
      `registered client ${client.clientId} at ${client.issuer} on ${new Date(client.registeredAt).toISOString().slice(0, 10)}${client.clientSecret ? " (with a secret, kept)" : ""}\n`,
    );
  }
  return 0;
}

function describe(entry: StoredEntry, path: string): string {
  const sealed = isSealedEntry(entry);
  const refreshable = sealed ? entry.refreshable : entry.refreshToken !== undefined;
  const now = Date.now();
  const expiry =
    entry.expiresAt === undefined
      ? "no expiry given"
      : entry.expiresAt > now
        ? `valid for ${formatDuration(entry.expiresAt - now)}`
        : `expired ${formatDuration(now - entry.expiresAt)} ago`;
  return [
    ...(entry.resource ? [`for ${entry.resource}`] : []),
    entry.issuer,
    `client ${entry.clientId}`,
    entry.scopes.length > 0 ? `scopes "${entry.scopes.join(" ")}"` : "no scopes",
    ...(entry.profile ? [`profile ${entry.profile}`] : []),
    ...(entry.name ? [`as ${entry.name}`] : []),
    expiry,
    refreshable === undefined ? "" : refreshable ? "refresh token held" : "no refresh token",
    ...(entry.tokenType === "DPoP" ? ["DPoP-bound (its key is saved with it)"] : []),
    sealed ? `secrets sealed by a key in ${storeName()}` : `secrets in ${path} (owner-only file)`,
  ]
    .filter(Boolean)
    .join(", ");
}

/** Signs the selected sign-in out, as logout() does, and says what was done. */
export async function signOut(flags: SelectionFlags & { "no-revoke"?: boolean | undefined }): Promise<number> {
  const result = await logout({ ...selection(flags), revoke: !flags["no-revoke"] });
  const revoked = result.revoked.length > 0 ? `; revoked the ${result.revoked.join(" and the ").replace(/_/g, " ")} at ${result.revocationEndpoint}` : "";
  process.stdout.write(result.removed ? `Signed out: removed the saved sign-in${revoked}.\n` : "There was no saved sign-in for these options.\n");
  return 0;
}
