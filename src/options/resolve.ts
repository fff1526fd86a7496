import { checkKnownOptions } from "./known.js";
import { applyProfile, missingProfileError } from "./profiles.js";
import {
  DEFAULTS,
  invalid,
  parseCa,
  parseCacheDir,
  parseExtraParams,
  parseFlow,
  parseGrant,
  parseInteractive,
  parseProxy,
  parseRedirectUri,
  parseScopes,
  parseSeconds,
  parseServerUrl,
  parseStore,
} from "./parse.js";
import type { LoginConfig, ProfileSource, ResolvedConfig } from "./types.js";

/**
 * Validates the options of any call and fills in defaults: the named profile first (call >
 * settings file > environment), then each option by its parser. Throws `INVALID_CONFIG` (or
 * `PROFILE_NOT_FOUND`) naming the option. `profiles` is where named profiles are read from (the
 * settings file, in the API; none by default).
 */
export function resolveConfig(input: LoginConfig, profiles: ProfileSource = NO_PROFILES): ResolvedConfig {
  if (input === null || typeof input !== "object") {
    throw invalid('`login()` needs an options object, e.g. login({ issuer: "https://id.example.com", clientId: "my-app" }).');
  }
  checkKnownOptions(input);
  if (input.profile !== undefined && (typeof input.profile !== "string" || input.profile.trim() === "")) {
    throw invalid('`profile` must be a non-empty string naming the account, e.g. "work".');
  }
  const cacheDir = parseCacheDir(input.cacheDir);
  const config = withProfile(input, cacheDir, profiles);
  const resource = config.resource === undefined ? undefined : parseResource(config.resource);
  if (config.clientId !== undefined || !resource) {
    if (typeof config.clientId !== "string" || config.clientId.trim() === "") {
      throw invalid(
        "`clientId` is required: the client (application) id registered at the provider (or give `resource`, the API's URL, to have one registered).",
      );
    }
  }
  const grant = parseGrant(config.grant);
  if (resource && grant === "client_credentials" && config.clientId === undefined) {
    throw invalid('`grant: "client_credentials"` with `resource` needs the service client\'s own `clientId` and `clientSecret`.');
  }
  const server = resolveServer(config, grant, resource);
  const extraParams = parseExtraParams(config.extraParams);
  const client = resolveClient(config, grant);
  const behaviour = resolveBehaviour(config);
  // Built field by field (no object spread): this runs on every call, a warm login included.
  return {
    resource,
    resourceIndicator: resource?.href ?? extraParams.resource,
    issuer: server.issuer,
    issuerId: server.issuerId,
    authorizationEndpoint: server.authorizationEndpoint,
    tokenEndpoint: server.tokenEndpoint,
    revocationEndpoint: server.revocationEndpoint,
    clientId: config.clientId ?? "",
    clientSecret: client.clientSecret,
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    pkceMethod: client.pkceMethod,
    grant,
    par: client.par,
    dpop: client.dpop,
    interactive: parseInteractive(config.interactive),
    openBrowser: behaviour.openBrowser,
    signal: behaviour.signal,
    quiet: behaviour.quiet,
    cache: behaviour.cache,
    forceLogin: behaviour.forceLogin,
    preflight: behaviour.preflight,
    scopes: parseScopes(config.scopes),
    extraParams,
    redirect: parseRedirectUri(config.redirectUri),
    flow: parseFlow(config.flow),
    timeoutMs: parseSeconds("timeout", config.timeout, DEFAULTS.timeoutSeconds),
    requestTimeoutMs: parseSeconds("requestTimeout", config.requestTimeout, DEFAULTS.requestTimeoutSeconds),
    cacheDir,
    store: parseStore(config.store),
    profile: config.profile,
    // A secret that is in the call and in no environment variable was most likely typed into the
    // notebook, which publishes it with the notebook.
    secretInSource: typeof input.clientSecret === "string" && !Object.values(process.env).includes(input.clientSecret),
    ca: parseCa(config.ca),
    proxy: parseProxy(config.proxy),
  };
}

/** `resource`: an absolute URL the API is reached at (https, or http on loopback), without a fragment (RFC 8707 §2). */
function parseResource(value: unknown): URL {
  const url = parseServerUrl("resource", value);
  if (url.hash !== "" || value === "" || (typeof value === "string" && value.includes("#"))) {
    throw invalid(`\`resource\` must not have a fragment (RFC 8707 §2): give the API's URL, e.g. "https://api.example.com/v1"; got ${JSON.stringify(value)}.`);
  }
  return url;
}

/** No saved profiles: only the environment's (`TSLAB_OAUTH_<PROFILE>_<FIELD>`). */
const NO_PROFILES: ProfileSource = { folder: (dir) => dir ?? "", read: () => ({}), path: () => "(no settings file)" };

/** The call's options with the named profile's fields filled in where the call left them out. */
function withProfile(input: LoginConfig, cacheDir: string | undefined, profiles: ProfileSource): LoginConfig {
  if (!input.profile) return input;
  const folder = profiles.folder(cacheDir);
  const { config, found } = applyProfile(input, profiles.read(folder));
  if (found) return config;
  const byResource = config.resource !== undefined;
  const missing = [
    !byResource && (typeof config.clientId !== "string" || config.clientId === "") ? "no `clientId`" : "",
    !byResource && config.issuer === undefined && config.authorizationEndpoint === undefined && config.tokenEndpoint === undefined ? "no `issuer`" : "",
  ].filter(Boolean);
  if (missing.length > 0)
    throw missingProfileError(
      input.profile,
      profiles.path(folder),
      `${missing.join(" and ")} in the call, the settings or the environment`,
      profiles.inNotebook === true,
    );
  return config;
}

/** Where the server is: an issuer to discover, or explicit endpoints. */
function resolveServer(
  config: LoginConfig,
  grant: ResolvedConfig["grant"],
  resource: URL | undefined,
): Pick<ResolvedConfig, "issuer" | "issuerId" | "authorizationEndpoint" | "tokenEndpoint" | "revocationEndpoint"> {
  const url = (name: "issuer" | "authorizationEndpoint" | "tokenEndpoint" | "revocationEndpoint"): URL | undefined =>
    config[name] === undefined ? undefined : parseServerUrl(name, config[name]);
  const issuer = url("issuer");
  const authorizationEndpoint = url("authorizationEndpoint");
  const tokenEndpoint = url("tokenEndpoint");
  // A service account never goes to the authorization endpoint: the token endpoint is enough.
  // With `resource`, the API names its authorization server.
  if (!issuer && !resource && !(tokenEndpoint && (authorizationEndpoint || grant === "client_credentials"))) {
    throw invalid(
      authorizationEndpoint || tokenEndpoint
        ? "Give both `authorizationEndpoint` and `tokenEndpoint` (or an `issuer` to discover them)."
        : "Give `issuer` (discovery) or both `authorizationEndpoint` and `tokenEndpoint`.",
    );
  }
  return { issuer, issuerId: issuer ? config.issuer : undefined, authorizationEndpoint, tokenEndpoint, revocationEndpoint: url("revocationEndpoint") };
}

/** How the client proves itself: PKCE method, secret, and how the secret is sent. */
function resolveClient(
  config: LoginConfig,
  grant: ResolvedConfig["grant"],
): Pick<ResolvedConfig, "clientSecret" | "tokenEndpointAuthMethod" | "pkceMethod" | "par" | "dpop"> {
  for (const name of ["par", "dpop"] as const) {
    if (config[name] !== undefined && typeof config[name] !== "boolean") throw invalid(`\`${name}\` must be true or false.`);
  }
  if (config.pkceMethod !== undefined && config.pkceMethod !== "S256" && config.pkceMethod !== "plain") {
    throw invalid('`pkceMethod` must be "S256" or "plain" (leave it unset to use S256).');
  }
  if (config.clientSecret !== undefined && (typeof config.clientSecret !== "string" || config.clientSecret === "")) {
    throw invalid("`clientSecret` must be a non-empty string when given.");
  }
  if (grant === "client_credentials" && config.clientSecret === undefined) {
    throw invalid(
      '`grant: "client_credentials"` signs the client in as itself, so it needs its `clientSecret`: put it in a profile or the environment (`clientSecret: process.env.MY_CLIENT_SECRET`), never in the notebook.',
    );
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
  return {
    clientSecret: config.clientSecret,
    tokenEndpointAuthMethod: method as ResolvedConfig["tokenEndpointAuthMethod"],
    pkceMethod: config.pkceMethod as ResolvedConfig["pkceMethod"],
    par: config.par,
    dpop: config.dpop ?? false,
  };
}

/** What the user sees and what is kept: browser, cancellation, display, cache. */
function resolveBehaviour(config: LoginConfig): Pick<ResolvedConfig, "openBrowser" | "signal" | "quiet" | "cache" | "forceLogin" | "preflight"> {
  const openBrowser = config.openBrowser ?? true;
  if (typeof openBrowser !== "boolean" && typeof openBrowser !== "function") {
    throw invalid("`openBrowser` must be true, false or a function (url) => void.");
  }
  const signal = config.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid("`signal` must be an AbortSignal.");
  for (const name of ["quiet", "cache", "forceLogin", "preflight"] as const) {
    if (config[name] !== undefined && typeof config[name] !== "boolean") throw invalid(`\`${name}\` must be true or false.`);
  }
  return {
    openBrowser,
    signal,
    quiet: config.quiet ?? false,
    cache: config.cache ?? true,
    forceLogin: config.forceLogin ?? false,
    preflight: config.preflight ?? true,
  };
}
