import { X509Certificate } from "node:crypto";
import { isAbsolute } from "node:path";
import { LoginError } from "../errors.js";
import { defaultConfigDir } from "../store/cache.js";
import { applyProfile, missingProfileError } from "./profiles.js";

/** Options of {@link login}. Every option is validated when `login()` is called. */
export interface LoginConfig {
  /**
   * The authorization server's issuer identifier, e.g. `https://id.example.com`. Its metadata is
   * discovered at `/.well-known/openid-configuration`, then RFC 8414
   * `/.well-known/oauth-authorization-server`; the discovered `issuer` must equal this value.
   * Give either `issuer` or both `authorizationEndpoint` and `tokenEndpoint`.
   */
  issuer?: string;
  /** Authorization endpoint, for servers without discovery (GitHub). Skips discovery with `tokenEndpoint`. */
  authorizationEndpoint?: string;
  /** Token endpoint, for servers without discovery (GitHub). */
  tokenEndpoint?: string;
  /**
   * Revocation endpoint (RFC 7009) used by {@link logout}, for servers that do not advertise
   * theirs (django-oauth-toolkit 1.7: `<issuer>/revoke_token/`). Overrides the discovered one.
   */
  revocationEndpoint?: string;
  /** The client (application) id registered at the provider. Required, in the call or in the `profile`. */
  clientId?: string;
  /**
   * Client secret, for "desktop" clients that were given one (Google). Sent as the server
   * advertises (`client_secret_basic` by default, `client_secret_post` when only that is listed).
   * Never printed.
   */
  clientSecret?: string;
  /** Force how `clientSecret` is sent. @default as advertised, else "client_secret_basic" */
  tokenEndpointAuthMethod?: "client_secret_basic" | "client_secret_post";
  /** Scopes to request, as an array or a space-separated string. @default none */
  scopes?: string[] | string;
  /** Extra authorization request parameters: `audience`, `resource`, `prompt`, `login_hint`... */
  extraParams?: Record<string, string>;
  /**
   * PKCE method (RFC 7636). Leave it unset: S256 is used unless the server's metadata lists only
   * `plain`. Set `"plain"` only for a server that refuses S256 without saying so in its metadata
   * (the challenge then equals the verifier: it no longer protects against anyone who sees the
   * authorization request). Refused when the server lists S256.
   * @default "S256", or "plain" when the server advertises only plain
   */
  pkceMethod?: "S256" | "plain";
  /**
   * Loopback redirect URI. Port `0`, or no port, means "any free port" (RFC 8252 §7.3); a fixed
   * port is used as given. The host may be `127.0.0.1`, `[::1]` or `localhost`.
   * @default "http://127.0.0.1:0/callback"
   */
  redirectUri?: string;
  /**
   * How the sign-in comes back from the browser:
   * - `"loopback"`: a redirect to a listener on this machine's loopback address (RFC 8252);
   * - `"device"`: the device authorization grant (RFC 8628): a link and a code the user enters on
   *   any device, for kernels the browser cannot reach (JupyterHub, SSH, containers);
   * - `"manual"`: two cells, with {@link beginLogin} (login() refuses it);
   * - `"auto"`: loopback when the kernel looks local, the device grant when it looks remote and the
   *   server supports it, else loopback with the two-cell fallback explained in the cell.
   * @default "auto"
   */
  flow?: "auto" | "loopback" | "device" | "manual";
  /** Seconds the user has to sign in. @default 300 */
  timeout?: number;
  /** Seconds each HTTP request (discovery, token) may take. @default 30 */
  requestTimeout?: number;
  /** Aborts the login; it then rejects with code `ABORTED`. */
  signal?: AbortSignal;
  /**
   * How to open the sign-in page: `true` uses the system browser (the `open` package), `false`
   * only shows the link, a function is called with the URL instead (in the device flow, with the
   * verification link, its complete form when the server gives one).
   * @default true
   */
  openBrowser?: boolean | ((url: string) => void | Promise<void>);
  /** In a notebook, leave nothing in the cell after a successful login. @default false */
  quiet?: boolean;
  /**
   * Keep the tokens in the on-disk cache and reuse them: a valid token is returned without any
   * request, an expired one is refreshed silently. `false` neither reads nor writes the cache.
   * @default true
   */
  cache?: boolean;
  /**
   * Absolute path of the directory that holds the cache file `tokens.json` (mode 0600).
   * @default `$TSLAB_OAUTH_CACHE_DIR`, else the user's config directory (`~/.config/tslab-oauth` on Linux)
   */
  cacheDir?: string;
  /**
   * A name for a client and account kept on this machine, not in the notebook. Fields missing from
   * the call are read from the user's settings (`profiles.json` next to the token cache, written by
   * `saveProfile()` or `npx tslab-oauth profile`), then from environment variables
   * `TSLAB_OAUTH_<PROFILE>_<FIELD>` (`TSLAB_OAUTH_WORK_GH_CLIENT_ID` for profile "work-gh"); the
   * call wins over both. Each profile also has its own cache entry, so it can name one of several
   * accounts at the same provider. A profile set up nowhere fails with `PROFILE_NOT_FOUND`, whose
   * message says what to set. @default none
   */
  profile?: string;
  /**
   * Skip the cached tokens, and ask the server to show its login page (`prompt=login`, unless
   * `extraParams.prompt` says otherwise). The new tokens replace the cached ones. @default false
   */
  forceLogin?: boolean;
  /**
   * Certificate authorities to trust for the requests made to the provider (discovery, token,
   * revocation, device authorization), in addition to Node's bundled ones: PEM text
   * (`-----BEGIN CERTIFICATE-----...`, one or several), a Buffer of it, or an array of them, e.g.
   * `fs.readFileSync("/etc/ssl/company-ca.pem")` for a provider behind a private CA. Certificates
   * are always verified; this option only adds authorities (without it, an unknown authority fails
   * with `DISCOVERY_FAILED` or `TOKEN_REQUEST_FAILED`). With it, these requests go through an
   * undici Agent of their own that trusts Node's bundled authorities plus these (not
   * `NODE_EXTRA_CA_CERTS`, nor a dispatcher set with undici's `setGlobalDispatcher`). It does not
   * apply to your own API calls.
   * @default none (Node's bundled authorities, and `NODE_EXTRA_CA_CERTS`)
   */
  ca?: string | Buffer | Array<string | Buffer>;
}

export interface RedirectTarget {
  /** Host as written in the redirect URI: `127.0.0.1`, `[::1]` or `localhost`. */
  host: "127.0.0.1" | "[::1]" | "localhost";
  port: number;
  path: string;
  search: string;
}

export interface ResolvedConfig {
  issuer: URL | undefined;
  /** The issuer exactly as given (URL parsing adds a trailing slash to a bare origin). */
  issuerId: string | undefined;
  authorizationEndpoint: URL | undefined;
  tokenEndpoint: URL | undefined;
  revocationEndpoint: URL | undefined;
  clientId: string;
  clientSecret: string | undefined;
  tokenEndpointAuthMethod: "client_secret_basic" | "client_secret_post" | undefined;
  scopes: string[];
  extraParams: Record<string, string>;
  pkceMethod: "S256" | "plain" | undefined;
  redirect: RedirectTarget;
  flow: "auto" | "loopback" | "device" | "manual";
  timeoutMs: number;
  requestTimeoutMs: number;
  signal: AbortSignal | undefined;
  openBrowser: boolean | ((url: string) => void | Promise<void>);
  quiet: boolean;
  cache: boolean;
  /** Absolute cache directory when given by option or environment; undefined means conf's default. */
  cacheDir: string | undefined;
  profile: string | undefined;
  forceLogin: boolean;
  /** The client secret was given in the call and matches no environment variable (typed in the notebook). */
  secretInSource: boolean;
  /** Extra trusted certificate authorities (PEM), or undefined. */
  ca: Array<string | Buffer> | undefined;
}

/** Environment variable naming the cache directory (the `cacheDir` option wins). */
export const CACHE_DIR_ENV = "TSLAB_OAUTH_CACHE_DIR";

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

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);
const MAX_TIMER_SECONDS = 2_147_483; // setTimeout's limit, in seconds

function invalid(message: string): LoginError {
  return new LoginError("INVALID_CONFIG", message);
}

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function parseServerUrl(name: string, value: unknown): URL {
  if (typeof value !== "string" || value.trim() === "") {
    throw invalid(`\`${name}\` must be a URL string such as "https://id.example.com".`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new LoginError("INVALID_CONFIG", `\`${name}\` is not a valid URL: ${JSON.stringify(value)}.`, { cause });
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return url;
  throw invalid(
    `\`${name}\` must use https (plain http is accepted only for loopback hosts such as 127.0.0.1); got ${JSON.stringify(value)}.`,
  );
}

function parseSeconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_SECONDS) {
    throw invalid(`\`${name}\` must be a number of seconds greater than 0 (default ${fallback}); got ${String(value)}.`);
  }
  return Math.round(value * 1000);
}

function parseScopes(value: unknown): string[] {
  if (value === undefined) return [];
  const list = typeof value === "string" ? value.split(" ").filter(Boolean) : value;
  if (!Array.isArray(list) || list.some((scope) => typeof scope !== "string" || scope === "" || /\s/.test(scope))) {
    throw invalid('`scopes` must be an array of scope names or a space-separated string, e.g. ["openid", "profile"].');
  }
  return [...new Set(list as string[])];
}

function parseExtraParams(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid("`extraParams` must be an object of string values, e.g. { audience: \"https://api.example.com\" }.");
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
  if (typeof text !== "string") throw invalid("`redirectUri` must be a string such as \"http://127.0.0.1:0/callback\".");
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new LoginError("INVALID_CONFIG", `\`redirectUri\` is not a valid URL: ${JSON.stringify(text)}.`, { cause });
  }
  if (url.protocol !== "http:" || !LOOPBACK_HOSTS.has(url.hostname)) {
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
function parseFlow(value: unknown): ResolvedConfig["flow"] {
  if (value === undefined) return "auto";
  if (!FLOWS.includes(value as ResolvedConfig["flow"])) throw invalid(`\`flow\` must be one of ${FLOWS.map((f) => `"${f}"`).join(", ")}; got ${JSON.stringify(value)}.`);
  return value as ResolvedConfig["flow"];
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
function parseCa(value: unknown): Array<string | Buffer> | undefined {
  if (value === undefined) return undefined;
  const list: unknown[] = Array.isArray(value) ? value : [value];
  const valid = (entry: unknown): boolean => {
    if (typeof entry !== "string" && !Buffer.isBuffer(entry)) return false;
    const blocks = (typeof entry === "string" ? entry : entry.toString("latin1")).match(PEM_CERTIFICATE) ?? [];
    try {
      for (const block of blocks) new X509Certificate(block); // throws on a malformed certificate
      return blocks.length > 0;
    } catch {
      return false;
    }
  };
  if (list.length === 0 || !list.every(valid)) {
    throw invalid('`ca` must be PEM certificates ("-----BEGIN CERTIFICATE-----..."), as a string, a Buffer or an array of them, e.g. fs.readFileSync("/path/to/company-ca.pem").');
  }
  return list as Array<string | Buffer>;
}

/** Validates `login()` options and fills in defaults. Throws `INVALID_CONFIG` naming the option. */
export function resolveConfig(input: LoginConfig): ResolvedConfig {
  if (input === null || typeof input !== "object") {
    throw invalid('`login()` needs an options object, e.g. login({ issuer: "https://id.example.com", clientId: "my-app" }).');
  }
  if (input.profile !== undefined && (typeof input.profile !== "string" || input.profile.trim() === "")) {
    throw invalid('`profile` must be a non-empty string naming the account, e.g. "work".');
  }
  const cacheDir = parseCacheDir(input.cacheDir);
  // A named profile fills in what the call leaves out: call > settings file > environment.
  let config = input;
  if (input.profile) {
    const settingsDir = cacheDir ?? defaultConfigDir();
    const resolution = applyProfile(input, settingsDir);
    config = resolution.config;
    const missing = resolution.found
      ? []
      : [
          typeof config.clientId !== "string" || config.clientId === "" ? "no `clientId`" : "",
          config.issuer === undefined && config.authorizationEndpoint === undefined && config.tokenEndpoint === undefined ? "no `issuer`" : "",
        ].filter(Boolean);
    if (missing.length > 0) throw missingProfileError(input.profile, settingsDir, `${missing.join(" and ")} in the call, the settings or the environment`);
  }
  if (typeof config.clientId !== "string" || config.clientId.trim() === "") {
    throw invalid("`clientId` is required: the client (application) id registered at the provider.");
  }
  const issuer = config.issuer === undefined ? undefined : parseServerUrl("issuer", config.issuer);
  const authorizationEndpoint =
    config.authorizationEndpoint === undefined ? undefined : parseServerUrl("authorizationEndpoint", config.authorizationEndpoint);
  const tokenEndpoint = config.tokenEndpoint === undefined ? undefined : parseServerUrl("tokenEndpoint", config.tokenEndpoint);
  if (!issuer && !(authorizationEndpoint && tokenEndpoint)) {
    throw invalid(
      authorizationEndpoint || tokenEndpoint
        ? "Give both `authorizationEndpoint` and `tokenEndpoint` (or an `issuer` to discover them)."
        : "Give `issuer` (discovery) or both `authorizationEndpoint` and `tokenEndpoint`.",
    );
  }
  const revocationEndpoint =
    config.revocationEndpoint === undefined ? undefined : parseServerUrl("revocationEndpoint", config.revocationEndpoint);
  if (config.pkceMethod !== undefined && config.pkceMethod !== "S256" && config.pkceMethod !== "plain") {
    throw invalid('`pkceMethod` must be "S256" or "plain" (leave it unset to use S256).');
  }
  if (config.clientSecret !== undefined && (typeof config.clientSecret !== "string" || config.clientSecret === "")) {
    throw invalid("`clientSecret` must be a non-empty string when given.");
  }
  const method = config.tokenEndpointAuthMethod;
  if (method !== undefined && method !== "client_secret_basic" && method !== "client_secret_post") {
    throw invalid('`tokenEndpointAuthMethod` must be "client_secret_basic" or "client_secret_post".');
  }
  if (method !== undefined && config.clientSecret === undefined) {
    throw invalid(
      "`tokenEndpointAuthMethod` (given, or set by a preset) needs a `clientSecret`: put it in a profile or the environment, e.g. `clientSecret: process.env.MY_CLIENT_SECRET`, never in the notebook.",
    );
  }
  const openBrowser = config.openBrowser ?? true;
  if (typeof openBrowser !== "boolean" && typeof openBrowser !== "function") {
    throw invalid("`openBrowser` must be true, false or a function (url) => void.");
  }
  const signal = config.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid("`signal` must be an AbortSignal.");
  for (const name of ["quiet", "cache", "forceLogin"] as const) {
    if (config[name] !== undefined && typeof config[name] !== "boolean") throw invalid(`\`${name}\` must be true or false.`);
  }
  // A secret that is in the call and in no environment variable was most likely typed into the
  // notebook, which publishes it with the notebook.
  const secretInSource =
    typeof input.clientSecret === "string" && !Object.values(process.env).includes(input.clientSecret);
  return {
    issuer,
    issuerId: issuer ? config.issuer : undefined,
    authorizationEndpoint,
    tokenEndpoint,
    revocationEndpoint,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    tokenEndpointAuthMethod: method,
    scopes: parseScopes(config.scopes),
    extraParams: parseExtraParams(config.extraParams),
    pkceMethod: config.pkceMethod,
    redirect: parseRedirectUri(config.redirectUri),
    flow: parseFlow(config.flow),
    timeoutMs: parseSeconds("timeout", config.timeout, DEFAULTS.timeoutSeconds),
    requestTimeoutMs: parseSeconds("requestTimeout", config.requestTimeout, DEFAULTS.requestTimeoutSeconds),
    signal,
    openBrowser,
    quiet: config.quiet ?? false,
    cache: config.cache ?? true,
    cacheDir,
    profile: config.profile,
    forceLogin: config.forceLogin ?? false,
    secretInSource,
    ca: parseCa(config.ca),
  };
}
