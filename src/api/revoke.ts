import { asLoginError, type LoginError } from "../errors.js";
import { revocationFailedError } from "../protocol/oauth-errors.js";
import { revokeToken, tokenContext } from "../protocol/token.js";
import { cacheKey, type Warn } from "../store/cache.js";
import { lockOrWarn } from "../store/token-store.js";
import type { EntryContext } from "./entry.js";
import type { LogoutResult } from "./types.js";

/** Revokes (RFC 7009) and forgets the saved sign-in the options name. */
export async function revokeEntry({ config, store, reporter, secrets }: EntryContext, revoke: boolean): Promise<LogoutResult> {
  const key = cacheKey(config);
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
      const ctx = tokenContext(config, metadata, config.signal, entry.clientAuthMethod);
      if (entry.refreshToken) {
        // Revoking the refresh token ends the grant; if that fails, keep everything for a retry.
        await revokeToken(ctx, entry.refreshToken, "refresh_token").catch((error: unknown) => {
          throw revocationFailedError(asLoginError(error), !config.clientSecret);
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
