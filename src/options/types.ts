/**
 * The options' types: what a call accepts ({@link LoginConfig}, {@link LogoutConfig}) and what the
 * rest of the library works with once they are validated ({@link ResolvedConfig}). No code.
 */

/** Options of {@link login}. Every option is validated when `login()` is called. */
export interface LoginConfig {
  /**
   * The protected API to sign in to, by its URL (an absolute https URL, or http on a loopback
   * host), e.g. `https://api.example.com/v1`. Where to sign in is discovered from the API itself
   * (OAuth 2.0 Protected Resource Metadata, RFC 9728, as MCP servers publish it), the client is
   * registered there when no `clientId` is given (RFC 7591, once per server, saved), scopes come
   * from the API when none are given, and every token request names this resource (RFC 8707), so
   * the token is meant for it alone. `issuer` and `clientId` may then be left out. A session
   * sends the token only to URLs within this resource. See docs/apis-by-url.md.
   */
  resource?: string;
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
  /**
   * The client (application) id registered at the provider. Required, in the call or in the
   * `profile`, unless `resource` is given (a client is then registered for you). An https URL here
   * is a Client ID Metadata Document, for servers that accept them.
   */
  clientId?: string;
  /**
   * Client secret, for "desktop" clients that were given one (Google). Sent as the server
   * advertises (`client_secret_basic` by default, `client_secret_post` when only that is listed).
   * Never printed.
   */
  clientSecret?: string;
  /** Force how `clientSecret` is sent. @default as advertised, else "client_secret_basic" */
  tokenEndpointAuthMethod?: "client_secret_basic" | "client_secret_post" | (string & {});
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
  pkceMethod?: "S256" | "plain" | (string & {});
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
   * - `"manual"`: the link, then the kernel asks for the address the browser ended on, in the same
   *   cell: for kernels with input (Deno's); in tslab, which has none, use {@link beginLogin};
   * - `"auto"`: loopback when the kernel looks local, the device grant when it looks remote and the
   *   server supports it, else loopback with the two-cell fallback ({@link beginLogin}) explained
   *   in the cell.
   * @default "auto"
   */
  flow?: "auto" | "loopback" | "device" | "manual" | (string & {});
  /**
   * When no callback has come within 3 s, request the sign-in page once here too, as a browser
   * would (HTML, no cookies, no redirects followed, at most 10 s): a 400 or 403 page that names an
   * OAuth refusal (an unregistered redirect URI, an unknown client) ends the sign-in at once with
   * `AUTHORIZATION_REQUEST_REJECTED` and the redirect URI to register, instead of a `TIMEOUT`; any
   * other odd answer is one line in the cell while the sign-in goes on; a 401 ("sign in first",
   * Kerberos) never stops it. `false` sends nothing but the browser's request.
   * @default true
   */
  preflight?: boolean;
  /**
   * `false` never opens a browser, listens, or shows a device code: the saved sign-in is used or
   * refreshed, otherwise the call fails at once with `INTERACTION_REQUIRED` (for notebooks run by
   * nbconvert, papermill, a scheduler or CI). Nothing turns it off implicitly.
   * @default true, or false when `TSLAB_OAUTH_INTERACTIVE` is `0`, `false` or `no`
   */
  interactive?: boolean;
  /**
   * How tokens are obtained: `"authorization_code"` signs a person in (the browser); with
   * `"client_credentials"` (RFC 6749 §4.4) the client signs in as itself, with `clientId` and
   * `clientSecret` (a service account: no browser, no listener; the token is saved, and renewed by
   * asking again). `issuer` or `tokenEndpoint` is enough.
   * @default "authorization_code"
   */
  grant?: "authorization_code" | "client_credentials" | (string & {});
  /**
   * Pushed authorization requests (RFC 9126): the sign-in request goes to the server directly,
   * and the browser (its history, any proxy or extension that records addresses) sees only
   * `client_id` and a single-use `request_uri`; a request the server refuses fails at once, before
   * a browser opens. Unset: used when the server advertises a `pushed_authorization_request_endpoint`.
   * `true` requires it (INVALID_CONFIG when the server has none), `false` never pushes.
   * @default used when offered
   */
  par?: boolean;
  /**
   * DPoP (RFC 9449), for {@link session} only: the tokens are bound to a key pair (ES256) made for
   * this sign-in and kept with it in the owner-only cache, and each request carries a proof signed
   * with it, so a copied token is useless to anyone without the key. `session().fetch` and
   * `session().headers(method, url)` send the proofs. `login()` and `beginLogin()` refuse it
   * (a header that works for every request is what DPoP prevents), and so does a server that
   * does not advertise DPoP (never a silent Bearer token).
   * @default false
   */
  dpop?: boolean;
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
   * Where the secrets of a saved sign-in (access token, refresh token, DPoP key) are kept.
   * `"keychain"`: sealed with a key held by the OS secret store (macOS Keychain, Windows Credential
   * Manager, the Secret Service on Linux), never in the clear in a file; `STORE_UNAVAILABLE` when
   * it cannot be used. `"file"`: in the owner-only `tokens.json`, the secret store untouched.
   * `"auto"`: the secret store when it works, else the file, said once. See docs/saved-sign-in.md.
   * @default `$TSLAB_OAUTH_STORE`, else "auto"
   */
  store?: "auto" | "keychain" | "file" | (string & {});
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
  /**
   * The HTTP proxy for every request to the provider (and `session().fetch`): a URL such as
   * `"http://proxy.example.com:3128"` (credentials as `http://user:password@host:port`; never
   * shown), or `false` for none. Loopback addresses never go through a proxy.
   * @default from `https_proxy` / `HTTPS_PROXY`, `http_proxy` / `HTTP_PROXY` and `no_proxy` / `NO_PROXY`, as curl reads them
   */
  proxy?: string | false;
}

/**
 * Options of {@link logout}: what identifies a saved sign-in (the same values as the login's),
 * plus `revoke`.
 */
export interface LogoutConfig extends Pick<
  LoginConfig,
  | "resource"
  | "issuer"
  | "authorizationEndpoint"
  | "tokenEndpoint"
  | "revocationEndpoint"
  | "clientId"
  | "clientSecret"
  | "tokenEndpointAuthMethod"
  | "scopes"
  | "extraParams"
  | "profile"
  | "cache"
  | "cacheDir"
  | "store"
  | "requestTimeout"
  | "signal"
  | "quiet"
  | "ca"
  | "proxy"
  | "grant"
  | "dpop"
> {
  /** Revoke the tokens at the server's revocation endpoint before forgetting them. @default true */
  revoke?: boolean;
}

export type { RedirectTarget, ResolvedConfig } from "./resolved.js";

/** The options a profile can hold: the client's settings, never per-call behaviour. */
export type ProfileField =
  | "resource"
  | "grant"
  | "issuer"
  | "authorizationEndpoint"
  | "tokenEndpoint"
  | "revocationEndpoint"
  | "clientId"
  | "clientSecret"
  | "tokenEndpointAuthMethod"
  | "scopes"
  | "extraParams"
  | "redirectUri"
  | "pkceMethod"
  | "par"
  | "dpop"
  | "store";

/** A saved profile: see `saveProfile()`. */
export type ProfileSettings = Partial<Pick<LoginConfig, ProfileField>>;

/**
 * Where saved profiles come from: the settings file (`savedProfiles` in store/profiles.ts), or none.
 * The options read no file themselves; resolveConfig is given this.
 */
export interface ProfileSource {
  /** The folder of the settings file for this `cacheDir` (the user's config folder when undefined). */
  folder(cacheDir: string | undefined): string;
  /** The profiles saved in that folder. */
  read(folder: string): Record<string, ProfileSettings>;
  /** The settings file's path, for messages. */
  path(folder: string): string;
  /** Where the call runs, for messages: a notebook's cell, or a terminal or script (the default). */
  inNotebook?: boolean;
}
