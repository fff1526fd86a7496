import type { LoginConfig } from "./types.js";
import { LoginError } from "../errors.js";

/**
 * A provider preset: the settings every user of that provider needs, without anything personal
 * (no client id, no secret). Spread it into `login()` and override what you like:
 *
 * ```ts
 * await login({ ...presets.github(), clientId: "Iv1.0123", profile: "gh" })
 * ```
 *
 * Spreading replaces whole fields: to add an API scope, write
 * `scopes: [...presets.google().scopes!, "https://www.googleapis.com/auth/drive.readonly"]`.
 */
export type Preset = Pick<
  LoginConfig,
  "issuer" | "authorizationEndpoint" | "tokenEndpoint" | "revocationEndpoint" | "tokenEndpointAuthMethod" | "scopes" | "extraParams" | "redirectUri"
>;

/** Where a fixed-port preset listens when the provider compares the redirect URI port included. */
const FIXED_PORT_REDIRECT = "http://localhost:8400/callback";

function name(label: string, value: unknown, example: string): string {
  if (typeof value !== "string" || value.trim() === "" || /[\s/?#@]/.test(value.trim())) {
    throw new LoginError("INVALID_CONFIG", `${label} must be a host name or id such as ${JSON.stringify(example)}; got ${JSON.stringify(value)}.`);
  }
  return value.trim();
}

function baseUrl(label: string, value: unknown, example: string): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch (cause) {
    throw new LoginError("INVALID_CONFIG", `${label} must be a URL such as ${JSON.stringify(example)}; got ${JSON.stringify(value)}.`, { cause });
  }
  return url.href.replace(/\/+$/, "");
}

/**
 * GitHub OAuth App (also GitHub Apps' user tokens). Register: Settings → Developer settings → OAuth
 * Apps → New OAuth App, *Authorization callback URL* `http://127.0.0.1/callback` (GitHub accepts any
 * port on a loopback callback URL), then generate a client secret.
 *
 * Quirks: no discovery (the endpoints are given), the token endpoint requires the client secret
 * even with PKCE (sent as a form parameter, as GitHub documents), `token_type` comes back as
 * lowercase `bearer` (accepted), no `openid`, no ID token, and OAuth Apps get no refresh tokens
 * (their tokens do not expire). Pass `clientSecret` from your settings or environment, never in
 * the notebook: see `profile`.
 */
export function github(): Preset {
  return {
    authorizationEndpoint: "https://github.com/login/oauth/authorize",
    tokenEndpoint: "https://github.com/login/oauth/access_token",
    tokenEndpointAuthMethod: "client_secret_post",
    scopes: ["read:user"],
    redirectUri: "http://127.0.0.1/callback",
  };
}

/**
 * Google. Register: Google Cloud console → Google Auth Platform → Clients → Create client →
 * **Desktop app** (configure the consent screen first; while in Testing, add yourself as a test
 * user). Nothing to register for the redirect: desktop clients accept `http://127.0.0.1` on any
 * port.
 *
 * Quirks: desktop clients come with a client secret that Google says is not confidential for
 * installed apps, yet its token endpoint requires it: pass it as `clientSecret`, from settings or
 * the environment. Google issues a refresh token only with `access_type=offline`, and again after
 * the first consent only with `prompt=consent`: both are set, so the saved sign-in renews itself.
 */
export function google(): Preset {
  return {
    issuer: "https://accounts.google.com",
    scopes: ["openid", "email", "profile"],
    extraParams: { access_type: "offline", prompt: "consent" },
    redirectUri: "http://127.0.0.1/callback",
  };
}

/**
 * Microsoft Entra ID (Azure AD), v2.0 endpoints. Register: Entra admin center → App registrations →
 * New registration → Authentication → Add a platform → **Mobile and desktop applications**, custom
 * redirect URI `http://localhost` (Entra accepts any port there). Public client: no secret.
 *
 * `tenant` is the Directory (tenant) ID from the app's overview page, which is part of the issuer.
 * `common`, `organizations` and `consumers` are refused: their discovery documents name a templated
 * issuer (`{tenantid}`) that no ID token matches. Personal Microsoft accounts only: tenant
 * `9188040d-6c67-4c5b-b112-36a304b66dad`.
 *
 * Quirks: refresh tokens only with `offline_access` (requested); one access token is for one
 * resource, so add that resource's scope (`https://graph.microsoft.com/User.Read`, or
 * `api://<app-id>/.default`).
 */
export function entra(options: { tenant: string }): Preset {
  const tenant = name("`tenant`", options?.tenant, "00000000-0000-0000-0000-000000000000");
  if (["common", "organizations", "consumers"].includes(tenant.toLowerCase())) {
    throw new LoginError(
      "INVALID_CONFIG",
      `\`tenant: "${tenant}"\` cannot be checked: its discovery document names the issuer "https://login.microsoftonline.com/{tenantid}/v2.0". Use your Directory (tenant) ID from the app's overview page.`,
    );
  }
  return {
    issuer: `https://login.microsoftonline.com/${tenant}/v2.0`,
    scopes: ["openid", "profile", "offline_access"],
    redirectUri: "http://localhost",
  };
}

/**
 * Auth0. Register: Applications → Create Application → **Native**; in Settings put
 * `http://localhost:8400/callback` in Allowed Callback URLs (Auth0 compares the port too: this
 * preset uses that fixed port; change it in both places if 8400 is taken).
 *
 * `domain` is your tenant's domain (`your-tenant.us.auth0.com`, or a custom domain); the issuer is
 * `https://<domain>/`, trailing slash included. Without `audience`, Auth0 issues an access token
 * that is only good for `/userinfo`: give your API's identifier to call it. Refresh tokens need
 * `offline_access` (requested) and, with an `audience`, "Allow Offline Access" on that API.
 */
export function auth0(options: { domain: string; audience?: string }): Preset {
  const domain = name("`domain`", options?.domain, "your-tenant.us.auth0.com");
  return {
    issuer: `https://${domain}/`,
    scopes: ["openid", "profile", "email", "offline_access"],
    extraParams: options.audience ? { audience: options.audience } : {},
    redirectUri: FIXED_PORT_REDIRECT,
  };
}

/**
 * Okta. Register: Applications → Create App Integration → OIDC → **Native Application**, grant type
 * Authorization Code with PKCE (no client secret), sign-in redirect URI
 * `http://localhost:8400/callback` (Okta compares the port too: this preset uses that fixed port),
 * Refresh Token grant checked for the saved sign-in to renew itself.
 *
 * `domain` is your Okta domain (`your-org.okta.com`); `authorizationServer` is a custom
 * authorization server's id (`default` exists in every org with API Access Management). The org
 * authorization server (`https://<domain>`, `authorizationServer: null`) issues tokens for Okta's
 * own APIs only.
 */
export function okta(options: { domain: string; authorizationServer?: string | null }): Preset {
  const domain = name("`domain`", options?.domain, "your-org.okta.com");
  const server = options.authorizationServer === undefined ? "default" : options.authorizationServer;
  return {
    issuer: server === null ? `https://${domain}` : `https://${domain}/oauth2/${name("`authorizationServer`", server, "default")}`,
    scopes: ["openid", "profile", "email", "offline_access"],
    redirectUri: FIXED_PORT_REDIRECT,
  };
}

/**
 * Keycloak. Register: in your realm, Clients → Create client → OpenID Connect; Client
 * authentication off (public), Standard flow on, PKCE method S256; Valid redirect URIs
 * `http://127.0.0.1/callback` (Keycloak ignores the port of loopback redirect URIs).
 *
 * `url` is the server's base URL (`https://keycloak.example.com`; before Keycloak 17 include the
 * `/auth` prefix); the issuer is `<url>/realms/<realm>`. Keep `openid`: Keycloak's userinfo
 * endpoint refuses tokens without it.
 */
export function keycloak(options: { url: string; realm: string }): Preset {
  const url = baseUrl("`url`", options?.url, "https://keycloak.example.com");
  const realm = options.realm;
  if (typeof realm !== "string" || realm.trim() === "" || realm.includes("/")) {
    throw new LoginError("INVALID_CONFIG", `\`realm\` must be the realm's name, such as "my-realm"; got ${JSON.stringify(realm)}.`);
  }
  return {
    issuer: `${url}/realms/${encodeURIComponent(realm)}`,
    scopes: ["openid", "profile", "email"],
    redirectUri: "http://127.0.0.1/callback",
  };
}

/**
 * GitLab (gitlab.com or self-managed). Register: User settings (or a group's settings) →
 * Applications → Add new application, **Confidential unchecked** (a public client with PKCE),
 * scopes `openid profile read_user`, redirect URI `http://localhost:8400/callback` (GitLab compares
 * the redirect URI exactly: this preset uses that fixed port).
 *
 * `url` is your instance (default `https://gitlab.com`), which is also the issuer. Access tokens
 * last two hours; refresh tokens renew the saved sign-in.
 */
export function gitlab(options: { url?: string } = {}): Preset {
  const url = options?.url === undefined ? "https://gitlab.com" : baseUrl("`url`", options.url, "https://gitlab.example.com");
  return {
    issuer: url,
    scopes: ["openid", "profile", "read_user"],
    redirectUri: FIXED_PORT_REDIRECT,
  };
}

/** The provider presets, for `login({ ...presets.github(), clientId })`. */
export const presets = { github, google, entra, auth0, okta, keycloak, gitlab } as const;
