import type { AuthHeaders, DpopHeaders } from "./headers.js";

/**
 * The public shapes of what the calls return. They name only this package's own types (a tslab
 * cell type-checks every declaration it reaches).
 */

/** A sign-in kept usable for as long as the notebook runs; see {@link session}. */
export interface Session {
  /** The issuer (or token endpoint's origin) this session signs in to; by `resource`, known once signed in. */
  readonly issuer: string;
  /** The client; by `resource` without `clientId`, the one registered for you. */
  readonly clientId: string;
  /** By `resource`: the API the token is for, and the only place `fetch()` sends it. */
  readonly resource: string | undefined;
  /** Valid headers: the current token, refreshed first when it is within its expiry margin. */
  headers(): Promise<AuthHeaders>;
  /**
   * The headers for one request. With `dpop: true`: `{ Authorization: "DPoP <token>", DPoP:
   * "<proof>" }`, the proof signed for this method and URL (valid once, for about a minute); for
   * another HTTP client than `session().fetch`. Without DPoP, the same as `headers()`.
   */
  headers(method: string, url: string | URL): Promise<AuthHeaders | DpopHeaders>;
  /**
   * `fetch` (undici's) with the `Authorization` header set (with `dpop: true`, the DPoP scheme and
   * a proof for this request). On a 401 answer, the token is renewed once and the request sent
   * again, if its body can be sent twice (none, a string, bytes, URLSearchParams, Blob, FormData);
   * a streamed body's 401 is returned as is. A DPoP server's `use_dpop_nonce` challenge is
   * answered once with the nonce it gave. With DPoP, redirects are followed by the session (a proof
   * is for one method and URL), by the Fetch standard's rules; the token is never sent to another
   * origin than the one asked for.
   *
   * By `resource`: the token goes only to URLs within the API (same origin, its path as a prefix by
   * whole segments); a URL outside it is refused before anything is sent, and redirects are
   * followed by the session, which drops the token when one leads out of the API. A 403 whose
   * challenge is `insufficient_scope` (RFC 6750 §3.1) leads to one sign-in with the scopes the API
   * asks for added, then one retry; asked again, the 403 is returned.
   */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
  /** Signs out: see {@link logout}. The session cannot be used afterwards without signing in again. */
  logout(options?: { revoke?: boolean }): Promise<LogoutResult>;
}

/** A sign-in started by {@link beginLogin}, waiting for the address the browser ended on. */
export interface PendingLogin {
  /** The sign-in page to open. */
  readonly url: string;
  /** Epoch ms after which {@link PendingLogin.complete} refuses (`timeout` after beginLogin). */
  readonly expiresAt: number;
  /**
   * Finishes the sign-in with the address the browser ended on (the whole URL, with `code` and
   * `state`), and resolves to the headers like login(). A wrong or tampered address is refused
   * without spending the sign-in: paste the right one. Single use.
   */
  complete(redirectedTo: string): Promise<AuthHeaders>;
}

/** What {@link logout} did. */
export interface LogoutResult {
  /** A saved sign-in was found and removed from the cache. */
  removed: boolean;
  /** The tokens the server confirmed as revoked (RFC 7009), refresh token first. */
  revoked: ("refresh_token" | "access_token")[];
  /** Where they were revoked; undefined when the server advertises no revocation endpoint. */
  revocationEndpoint: string | undefined;
  /**
   * The other saved sign-ins of the same user with the same client (other scopes or profiles),
   * which the revoked grant may have ended too: each is checked before its token is handed out
   * again ("refresh first": its next use refreshes, and signs in again if the provider refuses),
   * or, without a refresh token, "forgotten". Empty when nothing was revoked.
   */
  alsoAffected: { scopes: string[]; profile: string | undefined; action: "refresh first" | "forgotten" }[];
}
