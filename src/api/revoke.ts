import { asLoginError, type LoginError } from "../errors.js";
import { revocationFailedError } from "../protocol/oauth-errors.js";
import { tokenContext } from "../protocol/client-request.js";
import { revokeToken } from "../protocol/token.js";
import { isFresh, type CacheEntry, type Warn } from "../store/cache.js";
import type { SavedSignIn } from "../store/token-store.js";
import { savedTarget } from "../flows/target.js";
import type { CallContext } from "./call.js";
import type { LogoutResult } from "./types.js";

/** Revokes (RFC 7009) and forgets the saved sign-in the options name. */
export function revokeEntry(ctx: CallContext, revoke: boolean): Promise<LogoutResult> {
  return ctx.signIn.withLock(() => revokeHeld(ctx, revoke));
}

async function revokeHeld(call: CallContext, revoke: boolean): Promise<LogoutResult> {
  const { signIn, reporter, secrets } = call;
  const warn: Warn = (message) => reporter.warn(message);
  const entry = signIn.read();
  // By `resource`: the saved sign-in says which server and client it was made with.
  const config = entry ? savedTarget(call.config, entry, signIn, warn) : call.config;
  const issuer = entry?.metadata.issuer ?? config.issuerId ?? config.tokenEndpoint?.origin ?? config.resource?.href;
  if (!entry) {
    reporter.signedOut(
      `No saved sign-in to ${issuer} for client ${config.clientId}${config.profile ? ` (profile ${config.profile})` : ""}: nothing to sign out of.`,
    );
    return { removed: false, revoked: [], revocationEndpoint: undefined, alsoAffected: [] };
  }
  secrets.add(entry.accessToken);
  secrets.add(entry.refreshToken);
  // An endpoint given to logout() wins over the one saved with the sign-in.
  const metadata = config.revocationEndpoint ? { ...entry.metadata, revocation_endpoint: config.revocationEndpoint.href } : entry.metadata;
  const endpoint = revoke ? metadata.revocation_endpoint : undefined;
  const revoked: LogoutResult["revoked"] = [];
  if (endpoint) {
    const ctx = tokenContext(config, metadata, { clientAuthMethod: entry.clientAuthMethod, secrets });
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
      warn(
        `The access token was not revoked (${(error as LoginError).error ?? (error as Error).message}); it stays valid until it expires${entry.expiresAt ? ` at ${new Date(entry.expiresAt).toLocaleTimeString()}` : ""}.`,
      );
    }
  }
  // A revoked grant may end other sign-ins of the same user with this client (at oidc-provider,
  // those made in the same browser session share one grant, whatever their scopes).
  const alsoAffected = revoked.length ? checkSharedGrants(signIn, entry, warn) : [];
  if (!signIn.write(undefined)) {
    // The warning says why (a read-only directory, a link in place of the file): say what it means.
    reporter.signedOut(
      `Could not remove the saved sign-in to ${issuer} from this machine${revoked.length ? ", but its tokens were revoked at the provider" : ""}.`,
    );
    return { removed: false, revoked, revocationEndpoint: endpoint, alsoAffected };
  }
  const what = revoked.length ? `; revoked the ${revoked.map((t) => t.replace("_", " ")).join(" and the ")} at ${endpoint}` : "";
  const why = !revoke
    ? " (not revoked, as asked)"
    : !endpoint
      ? ` (the server advertises no revocation endpoint, so the tokens stay valid until they expire; pass \`revocationEndpoint\` if it has one)`
      : "";
  const others = alsoAffected.length ? ` ${sharedGrantNote(alsoAffected, config.clientId)}` : "";
  // The cell shows it with the outcome; a terminal, which shows no outcome, gets it on stderr.
  if (others) reporter.notice(others.trim());
  reporter.signedOut(`Signed out of ${issuer}: removed the saved sign-in${what}${why}.${others}`);
  return { removed: true, revoked, revocationEndpoint: endpoint, alsoAffected };
}

/**
 * The saved sign-ins that may share the revoked one's grant: same issuer, client and user (`sub`;
 * an entry without one may be the same user). Whether they do depends on the browser session they
 * were made in, which nobody here can see, so none is handed out as valid again unchecked: one
 * with a refresh token is marked expired (its next use refreshes, which the server refuses if the
 * grant ended, and a browser sign-in follows), one without is forgotten.
 */
function checkSharedGrants(signIn: SavedSignIn, revoked: CacheEntry, warn: Warn): LogoutResult["alsoAffected"] {
  const { store } = signIn;
  const affected: LogoutResult["alsoAffected"] = [];
  for (const [key, entry] of store.entries(warn)) {
    if (key === signIn.key || entry.issuer !== revoked.issuer || entry.clientId !== revoked.clientId) continue;
    if (entry.sub !== undefined && revoked.sub !== undefined && entry.sub !== revoked.sub) continue;
    // One holding the very refresh token revoked (a second API's sign-in, RFC 8707 §2.2) is over.
    const sameToken = revoked.grant !== undefined && entry.grant === revoked.grant;
    const refreshFirst = entry.refreshToken !== undefined && !sameToken;
    if (refreshFirst && !isFresh(entry)) continue; // its next use refreshes anyway
    if (store.write(key, refreshFirst ? { ...entry, expiresAt: entry.obtainedAt } : undefined, warn)) {
      affected.push({ scopes: entry.scopes, profile: entry.profile, action: refreshFirst ? "refresh first" : "forgotten" });
    }
  }
  return affected;
}

/** What the cell says of the other sign-ins a logout touched. */
function sharedGrantNote(affected: LogoutResult["alsoAffected"], clientId: string): string {
  const named = (list: LogoutResult["alsoAffected"]): string =>
    list.map((o) => `scopes "${o.scopes.join(" ")}"${o.profile ? ` (profile ${o.profile})` : ""}`).join(", ");
  const refreshed = affected.filter((o) => o.action === "refresh first");
  const forgotten = affected.filter((o) => o.action === "forgotten");
  const parts = [
    refreshed.length ? `will be refreshed before their token is used again, ${named(refreshed)}` : "",
    forgotten.length ? `were forgotten (no refresh token to check them with), ${named(forgotten)}` : "",
  ].filter(Boolean);
  return `The provider may have ended other sign-ins of this user with client ${clientId} along with this one, so they ${parts.join("; and ")}.`;
}
