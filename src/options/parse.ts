import { X509Certificate } from "node:crypto";
import { isAbsolute } from "node:path";
import { LoginError } from "../errors.js";
import { proxySettings, ProxyUrlError, type ProxySettings } from "../util/proxy.js";
import { isSecureUrl } from "../util/urls.js";
import type { RedirectTarget, ResolvedConfig } from "./types.js";

/** One parser per option: each validates one value and names the option in its error. */

/** Environment variable that turns interactive sign-in off (the `interactive` option wins). */
const INTERACTIVE_ENV = "TSLAB_OAUTH_INTERACTIVE";

/** Environment variable naming the cache directory (the `cacheDir` option wins). */
const CACHE_DIR_ENV = "TSLAB_OAUTH_CACHE_DIR";

export const DEFAULTS = {
  redirectUri: "http://127.0.0.1:0/callback",
  timeoutSeconds: 300,
  requestTimeoutSeconds: 30,
} as const;

/** Parameters that `login()` sets itself; `extraParams` may not override them. */
const RESERVED_PARAMS = new Map<string, string>([
  ["response_type", "it is always `code`"],
  ["client_id", "use `clientId`"],
  ["redirect_uri", "use `redirectUri`"],
  ["scope", "use `scopes`"],
  ["state", "it is generated for each login"],
  ["nonce", "it is generated for each login"],
  ["code_challenge", "PKCE is generated for each login"],
  ["code_challenge_method", "PKCE is generated for each login"],
]);

/** The hosts a redirect URI may name: the listener binds exactly these. */
const REDIRECT_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);
const MAX_TIMER_SECONDS = 2_147_483; // setTimeout's limit, in seconds

export function invalid(message: string): LoginError {
  return new LoginError("INVALID_CONFIG", message);
}

export function parseServerUrl(name: string, value: unknown): URL {
  if (typeof value !== "string" || value.trim() === "") {
    throw invalid(`\`${name}\` must be a URL string such as "https://id.example.com".`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new LoginError("INVALID_CONFIG", `\`${name}\` is not a valid URL: ${JSON.stringify(value)}.`, { cause });
  }
  if (isSecureUrl(url)) return url;
  throw invalid(`\`${name}\` must use https (plain http is accepted only for loopback hosts such as 127.0.0.1); got ${JSON.stringify(value)}.`);
}

export function parseSeconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_SECONDS) {
    throw invalid(`\`${name}\` must be a number of seconds greater than 0 (default ${fallback}); got ${String(value)}.`);
  }
  return Math.round(value * 1000);
}

export function parseScopes(value: unknown): string[] {
  if (value === undefined) return [];
  const list = typeof value === "string" ? value.split(" ").filter(Boolean) : value;
  if (!Array.isArray(list) || list.some((scope) => typeof scope !== "string" || scope === "" || /\s/.test(scope))) {
    throw invalid('`scopes` must be an array of scope names or a space-separated string, e.g. ["openid", "profile"].');
  }
  return [...new Set(list as string[])];
}

export function parseExtraParams(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid('`extraParams` must be an object of string values, e.g. { audience: "https://api.example.com" }.');
  }
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    const reason = RESERVED_PARAMS.get(key);
    if (reason) throw invalid(`\`extraParams.${key}\` cannot be set: ${reason}.`);
    if (typeof entry !== "string") throw invalid(`\`extraParams.${key}\` must be a string.`);
    out[key] = entry;
  }
  return out;
}

export function parseRedirectUri(value: unknown): RedirectTarget {
  const text = value === undefined ? DEFAULTS.redirectUri : value;
  if (typeof text !== "string") throw invalid('`redirectUri` must be a string such as "http://127.0.0.1:0/callback".');
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new LoginError("INVALID_CONFIG", `\`redirectUri\` is not a valid URL: ${JSON.stringify(text)}.`, { cause });
  }
  if (url.protocol !== "http:" || !REDIRECT_HOSTS.has(url.hostname)) {
    throw invalid(
      `\`redirectUri\` must be a loopback http URL (host 127.0.0.1, [::1] or localhost), e.g. "http://127.0.0.1:0/callback"; got ${JSON.stringify(text)}.`,
    );
  }
  if (url.username || url.password || url.hash || text.includes("#")) {
    throw invalid("`redirectUri` must not contain credentials or a #fragment.");
  }
  // new URL() drops an explicit :80; read the port the user wrote.
  const explicitPort = /^http:\/\/(?:\[[^\]]+\]|[^/:?#]+):(\d+)/i.exec(text)?.[1];
  // No port at all means "any free port", as registered at most providers (RFC 8252 §7.3).
  const port = explicitPort === undefined ? 0 : Number(explicitPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid(`\`redirectUri\` has an invalid port: ${explicitPort}.`);
  return { host: url.hostname as RedirectTarget["host"], port, path: url.pathname || "/", search: url.search };
}

const FLOWS = ["auto", "loopback", "device", "manual"] as const;
export function parseFlow(value: unknown): ResolvedConfig["flow"] {
  if (value === undefined) return "auto";
  if (!FLOWS.includes(value as ResolvedConfig["flow"]))
    throw invalid(`\`flow\` must be one of ${FLOWS.map((f) => `"${f}"`).join(", ")}; got ${JSON.stringify(value)}.`);
  return value as ResolvedConfig["flow"];
}

/** Environment variable choosing where saved secrets go (the `store` option wins). */
const STORE_ENV = "TSLAB_OAUTH_STORE";
const STORES = ["auto", "keychain", "file"] as const;

/** `store`, else `$TSLAB_OAUTH_STORE`, else "auto". */
export function parseStore(value: unknown, env: NodeJS.ProcessEnv = process.env): ResolvedConfig["store"] {
  const fromEnv = env[STORE_ENV]?.trim();
  const [name, chosen] = value !== undefined ? ["`store`", value] : fromEnv ? [`$${STORE_ENV}`, fromEnv] : ["", "auto"];
  if (STORES.includes(chosen as ResolvedConfig["store"])) return chosen as ResolvedConfig["store"];
  throw invalid(
    `${name} must be "auto" (the OS secret store when it works, else an owner-only file), "keychain" (the secret store only) or "file"; got ${JSON.stringify(chosen)}.`,
  );
}

/** The cache (and settings) directory from the option or `$TSLAB_OAUTH_CACHE_DIR`; undefined means the default. */
export function parseCacheDir(value: unknown): string | undefined {
  const fromEnv = process.env[CACHE_DIR_ENV];
  const [name, dir] = value !== undefined ? ["`cacheDir`", value] : fromEnv ? [`$${CACHE_DIR_ENV}`, fromEnv] : ["", undefined];
  if (dir === undefined) return undefined;
  // A relative path would put tokens next to the notebook, where they get shared with it.
  if (typeof dir !== "string" || !isAbsolute(dir)) {
    throw invalid(`${name} must be an absolute directory path outside the notebook's folder (tokens are kept there); got ${JSON.stringify(dir)}.`);
  }
  return dir;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;
/** PEM texts already parsed as certificates: parsing costs ~0.1 ms each, and `ca` comes with every call. */
const validPem = new Set<string>();
export function parseCa(value: unknown): Array<string | Buffer> | undefined {
  if (value === undefined) return undefined;
  const list: unknown[] = Array.isArray(value) ? value : [value];
  const valid = (entry: unknown): boolean => {
    if (typeof entry !== "string" && !Buffer.isBuffer(entry)) return false;
    const text = typeof entry === "string" ? entry : entry.toString("latin1");
    if (validPem.has(text)) return true;
    const blocks = text.match(PEM_CERTIFICATE) ?? [];
    try {
      for (const block of blocks) new X509Certificate(block); // throws on a malformed certificate
    } catch {
      return false;
    }
    if (blocks.length > 0 && validPem.size < 64) validPem.add(text);
    return blocks.length > 0;
  };
  if (list.length === 0 || !list.every(valid)) {
    throw invalid(
      '`ca` must be PEM certificates ("-----BEGIN CERTIFICATE-----..."), as a string, a Buffer or an array of them, e.g. fs.readFileSync("/path/to/company-ca.pem").',
    );
  }
  return list as Array<string | Buffer>;
}

/** `interactive`, else `$TSLAB_OAUTH_INTERACTIVE` (`0`, `false`, `no` turn it off). */
export function parseInteractive(value: unknown, env: NodeJS.ProcessEnv = process.env): boolean {
  if (value !== undefined) {
    if (typeof value !== "boolean") throw invalid("`interactive` must be true or false.");
    return value;
  }
  const fromEnv = env[INTERACTIVE_ENV]?.trim().toLowerCase();
  if (fromEnv === undefined || fromEnv === "") return true;
  if (["0", "false", "no"].includes(fromEnv)) return false;
  if (["1", "true", "yes"].includes(fromEnv)) return true;
  throw invalid(`$${INTERACTIVE_ENV} must be 0 or 1 (true or false); got ${JSON.stringify(env[INTERACTIVE_ENV])}.`);
}

export function parseGrant(value: unknown): ResolvedConfig["grant"] {
  if (value === undefined) return "authorization_code";
  if (value === "authorization_code" || value === "client_credentials") return value;
  throw invalid('`grant` must be "authorization_code" (a person signs in) or "client_credentials" (a service account).');
}

/** The `proxy` option, or the proxy variables of the environment; a bad URL names where it came from. */
export function parseProxy(value: unknown): ProxySettings {
  if (value !== undefined && value !== false && typeof value !== "string") {
    throw invalid('`proxy` must be a proxy URL such as "http://proxy.example.com:3128", or false for none.');
  }
  try {
    return proxySettings(value);
  } catch (cause) {
    if (cause instanceof ProxyUrlError)
      throw new LoginError("INVALID_CONFIG", cause.what === "the `proxy` option" ? cause.message.replace("the `proxy` option", "`proxy`") : cause.message, {
        cause,
      });
    throw cause;
  }
}
