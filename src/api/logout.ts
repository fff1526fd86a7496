import { lockOrWarn, type TokenStore } from "./obtain.js";
import { cacheKey, type Warn } from "../store/cache.js";
import type { LoginConfig, ResolvedConfig } from "../options/config.js";
import { LoginError } from "../errors.js";
import { reportFailure, resolveOrReport, storeFor } from "./login.js";
import { createReporter } from "../notebook/create.js";
import type { LoginReporter } from "../notebook/reporter.js";
import { SecretSet } from "../secrets.js";
import { revokeToken, tokenContext } from "../protocol/token.js";

/** What {@link logout} did. */
export interface LogoutResult {
  /** A saved sign-in was found and removed from the cache. */
  removed: boolean;
  /** The tokens the server confirmed as revoked (RFC 7009), refresh token first. */
  revoked: ("refresh_token" | "access_token")[];
  /** Where they were revoked; undefined when the server advertises no revocation endpoint. */
  revocationEndpoint: string | undefined;
}

/** Options of {@link logout}: the same as login()'s (they name the cache entry), plus `revoke`. */
export interface LogoutConfig extends LoginConfig {
  /** Revoke the tokens at the server's revocation endpoint before forgetting them. @default true */
  revoke?: boolean;
}

/**
 * Signs out: revokes the saved refresh token, then the access token, at the server's revocation
 * endpoint (RFC 7009) when it advertises one, and removes the entry from the cache. The same
 * options as login() pick the entry (issuer, client, scopes, profile...). In a notebook the cell
 * says what was done.
 *
 * If the refresh token cannot be revoked (network, server error) nothing is removed, so that you
 * can try again; `revoke: false` only forgets the tokens on this machine.
 *
 * @example
 * ```ts
 * await logout({ issuer: "https://id.example.com", clientId: "my-app", scopes: ["openid", "profile"] });
 * ```
 */
export async function logout(config: LogoutConfig): Promise<LogoutResult> {
  const resolved = resolveOrReport(config);
  if (config.revoke !== undefined && typeof config.revoke !== "boolean") {
    throw new LoginError("INVALID_CONFIG", "`revoke` must be true or false.");
  }
  const secrets = new SecretSet();
  secrets.add(resolved.clientSecret);
  const reporter = createReporter(resolved);
  try {
    const store = await storeFor(resolved);
    return await revokeEntry(resolved, store, cacheKey(resolved), reporter, secrets, config.revoke ?? true);
  } catch (caught) {
    throw reportFailure(caught, reporter, secrets);
  } finally {
    reporter.dispose();
  }
}

export async function revokeEntry(
  config: ResolvedConfig,
  store: TokenStore,
  key: string,
  reporter: LoginReporter,
  secrets: SecretSet,
  revoke: boolean,
): Promise<LogoutResult> {
  const warn: Warn = (message) => reporter.warn(message);
  const release = await lockOrWarn(config, store, warn);
  try {
    const entry = store.read(key, warn);
    const issuer = entry?.metadata.issuer ?? config.issuerId ?? config.tokenEndpoint?.origin;
    if (!entry) {
      reporter.signedOut(`No saved sign-in to ${issuer} for client ${config.clientId}${config.profile ? ` (profile ${config.profile})` : ""}: nothing to sign out of.`);
      return { removed: false, revoked: [], revocationEndpoint: undefined };
    }
    secrets.add(entry.accessToken);
    secrets.add(entry.refreshToken);
    // An endpoint given to logout() wins over the one saved with the sign-in.
    const metadata = config.revocationEndpoint ? { ...entry.metadata, revocation_endpoint: config.revocationEndpoint.href } : entry.metadata;
    const endpoint = revoke ? metadata.revocation_endpoint : undefined;
    const revoked: LogoutResult["revoked"] = [];
    if (endpoint) {
      const ctx = tokenContext(config, metadata);
      if (entry.refreshToken) {
        // Revoking the refresh token ends the grant; if that fails, keep everything for a retry.
        await revokeToken(ctx, entry.refreshToken, "refresh_token").catch((error: unknown) => {
          throw new LoginError(
            "REVOCATION_FAILED",
            `${(error as Error).message} Nothing was removed: run logout() again, or pass \`revoke: false\` to only forget the tokens on this machine.`,
            { cause: error, error: (error as LoginError).error, status: (error as LoginError).status },
          );
        });
        revoked.push("refresh_token");
      }
      try {
        await revokeToken(ctx, entry.accessToken, "access_token");
        revoked.push("access_token");
      } catch (error) {
        secrets.scrubError(error);
        // Some servers revoke refresh tokens only (unsupported_token_type); the access token then
        // lives until it expires.
        warn(`The access token was not revoked (${(error as LoginError).error ?? (error as Error).message}); it stays valid until it expires${entry.expiresAt ? ` at ${new Date(entry.expiresAt).toLocaleTimeString()}` : ""}.`);
      }
    }
    if (!store.write(key, undefined, warn)) {
      // The warning says why (a read-only directory, a link in place of the file): say what it means.
      reporter.signedOut(`Could not remove the saved sign-in to ${issuer} from this machine${revoked.length ? ", but its tokens were revoked at the provider" : ""}.`);
      return { removed: false, revoked, revocationEndpoint: endpoint };
    }
    const what = revoked.length ? `; revoked the ${revoked.map((t) => t.replace("_", " ")).join(" and the ")} at ${endpoint}` : "";
    const why = !revoke ? " (not revoked, as asked)" : !endpoint ? ` (the server advertises no revocation endpoint, so the tokens stay valid until they expire; pass \`revocationEndpoint\` if it has one)` : "";
    reporter.signedOut(`Signed out of ${issuer}: removed the saved sign-in${what}${why}.`);
    return { removed: true, revoked, revocationEndpoint: endpoint };
  } finally {
    release();
  }
}
