import { LoginError } from "../errors.js";
import type { LoginConfig } from "../options/types.js";
import { resolveOrReport, runCall, successInfo } from "./call.js";
import { createAuthHeaders, type AuthHeaders } from "./headers.js";
import { obtainTokens } from "./obtain.js";

/**
 * Signs in with the authorization code flow and PKCE (RFC 6749 §4.1, RFC 7636) through a transient
 * loopback listener (RFC 8252), and resolves to `{ Authorization: "Bearer <token>" }`.
 *
 * With the cache on (the default), a saved token that is still valid is returned at once, with no
 * request at all; an expired one is refreshed silently (RFC 6749 §6) and the rotated refresh token
 * saved before this resolves. Otherwise it opens the browser at the sign-in page, waits for the
 * redirect (at most `timeout` seconds), checks `state` and `iss` (RFC 9207), exchanges the code,
 * validates the ID token claims when `openid` was requested, and closes the listener. In a tslab
 * notebook the cell shows the sign-in link while waiting and one line (no secret) when done; in
 * plain Node the link is printed once to stderr.
 *
 * The headers do not renew themselves: for a notebook that outlives a token, use {@link session}.
 *
 * @throws {LoginError} with a stable `code`; nothing is left listening and the cache is intact.
 *
 * @example
 * ```ts
 * const headers = await login({ issuer: "https://id.example.com", clientId: "my-app", scopes: ["openid", "profile"] });
 * const res = await fetch("https://api.example.com/me", { headers: headers });
 * ```
 */
export async function login(config: LoginConfig): Promise<AuthHeaders> {
  return runCall(resolveOrReport(config), {}, async (ctx) => {
    if (ctx.config.dpop) throw dpopNeedsSession("login()");
    const { entry, source } = await obtainTokens(ctx, { skipStored: ctx.config.forceLogin });
    ctx.reporter.succeeded(successInfo(entry, source));
    return createAuthHeaders(entry.accessToken);
  });
}

/** `dpop: true` where a plain header is asked for: refused, never a silent Bearer token. */
export function dpopNeedsSession(call: string): LoginError {
  return new LoginError(
    "INVALID_CONFIG",
    `\`dpop: true\` binds the tokens to a key, so every request needs its own proof: ${call} cannot return a header that works for every request (and will not fall back to a Bearer token). ` +
      'Use `const api = await session({ ..., dpop: true })`, then `api.fetch(url)`, or `await api.headers("GET", url)` for one request with another HTTP client.',
  );
}
