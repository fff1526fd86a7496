import type { ProxySettings } from "../util/proxy.js";

/** The options once validated: what the rest of the library works with (see ./types.ts for what a call accepts). */

export interface RedirectTarget {
  /** Host as written in the redirect URI: `127.0.0.1`, `[::1]` or `localhost`. */
  host: "127.0.0.1" | "[::1]" | "localhost";
  port: number;
  path: string;
  search: string;
}

export interface ResolvedConfig {
  /** `resource`: the API whose metadata says where to sign in (RFC 9728). */
  resource: URL | undefined;
  /**
   * The resource indicator (RFC 8707) every request but revocation carries: the API's own
   * identifier once discovered, `resource`, or `extraParams.resource`.
   */
  resourceIndicator: string | undefined;
  issuer: URL | undefined;
  /** The issuer exactly as given (URL parsing adds a trailing slash to a bare origin). */
  issuerId: string | undefined;
  authorizationEndpoint: URL | undefined;
  tokenEndpoint: URL | undefined;
  revocationEndpoint: URL | undefined;
  /**
   * The client id; "" only with `resource` and no `clientId` given: the sign-in then registers
   * one (or finds the one it registered) before any request that needs it.
   */
  clientId: string;
  clientSecret: string | undefined;
  tokenEndpointAuthMethod: "client_secret_basic" | "client_secret_post" | undefined;
  scopes: string[];
  extraParams: Record<string, string>;
  pkceMethod: "S256" | "plain" | undefined;
  redirect: RedirectTarget;
  flow: "auto" | "loopback" | "device" | "manual";
  preflight: boolean;
  interactive: boolean;
  grant: "authorization_code" | "client_credentials";
  /** `par`: undefined pushes when the server offers it. */
  par: boolean | undefined;
  dpop: boolean;
  timeoutMs: number;
  requestTimeoutMs: number;
  signal: AbortSignal | undefined;
  openBrowser: boolean | ((url: string) => void | Promise<void>);
  quiet: boolean;
  cache: boolean;
  /** Absolute cache directory when given by option or environment; undefined means conf's default. */
  cacheDir: string | undefined;
  /** Where the secrets of a saved sign-in go (`store`, else `$TSLAB_OAUTH_STORE`, else "auto"). */
  store: "auto" | "keychain" | "file";
  profile: string | undefined;
  forceLogin: boolean;
  /** The client secret was given in the call and matches no environment variable (typed in the notebook). */
  secretInSource: boolean;
  /** Extra trusted certificate authorities (PEM), or undefined. */
  ca: Array<string | Buffer> | undefined;
  /** Which proxy each request goes through (the option, or the environment read once). */
  proxy: ProxySettings;
}
