import { fileStore, memoryStore, obtainTokens, type TokenStore } from "./obtain.js";
import { cacheKey, openCache } from "../store/cache.js";
import { resolveConfig, type LoginConfig, type ResolvedConfig } from "../options/config.js";
import { forgetMetadata } from "../protocol/discovery.js";
import { LoginError } from "../errors.js";
import { createAuthHeaders, type AuthHeaders } from "./headers.js";
import { createReporter } from "../notebook/create.js";
import type { LoginReporter } from "../notebook/reporter.js";
import { SecretSet } from "../secrets.js";

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
  const resolved = resolveOrReport(config);
  const secrets = new SecretSet();
  secrets.add(resolved.clientSecret);
  const reporter = createReporter(resolved);
  try {
    const store = await storeFor(resolved);
    const { entry, source } = await obtainTokens(resolved, store, cacheKey(resolved), reporter, secrets, { skipStored: resolved.forceLogin });
    reporter.succeeded({ issuer: entry.metadata.issuer, name: entry.name, expiresAt: entry.expiresAt, source });
    return createAuthHeaders(entry.accessToken);
  } catch (caught) {
    forgetMetadata(resolved);
    throw reportFailure(caught, reporter, secrets);
  } finally {
    reporter.dispose();
  }
}

/**
 * Validates the options (profile included); a bad one is shown in the cell like any other failure
 * (what to change, no stack trace to read) and thrown.
 */
export function resolveOrReport(config: LoginConfig): ResolvedConfig {
  try {
    return resolveConfig(config);
  } catch (caught) {
    const reporter = createReporter({ quiet: false });
    try {
      throw reportFailure(caught, reporter, new SecretSet());
    } finally {
      reporter.dispose();
    }
  }
}

/** The file cache, or a throwaway memory store with `cache: false`. */
export async function storeFor(config: ResolvedConfig): Promise<TokenStore> {
  return config.cache ? fileStore(await openCache(config.cacheDir)) : memoryStore();
}

/** Every error leaving the library: a LoginError, scrubbed of secrets, shown in the cell. */
export function reportFailure(caught: unknown, reporter: LoginReporter, secrets: SecretSet): LoginError {
  const error =
    caught instanceof LoginError ? caught : new LoginError("TOKEN_REQUEST_FAILED", String((caught as Error)?.message ?? caught), { cause: caught });
  secrets.scrubError(error);
  reporter.failed(error);
  return error;
}
