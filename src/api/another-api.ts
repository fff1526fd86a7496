import { randomUUID } from "node:crypto";
import { abortedError, isRefusal, LoginError, refusalText } from "../errors.js";
import type { ApiTarget } from "../flows/api.js";
import type { CacheEntry, Warn } from "../store/cache.js";
import { shareRefreshToken, toEntry } from "../store/token-store.js";
import type { CallContext } from "./call.js";

/**
 * A second API at a server this machine is already signed in to: the saved sign-in's refresh token
 * asks for a token for the new API (RFC 8707 §2.2), and no browser opens. Only where that is
 * unambiguous: the same server, client and profile, one user, no DPoP key, and no earlier refusal
 * by that server of such a request.
 *
 * The two sign-ins then hold one refresh token (marked by a shared `grant`): a rotation by either is
 * saved in both (store/token-store.ts `shareRefreshToken`).
 *
 * A refusal sends the person to the browser. The refresh token that was tried is not sent again:
 * servers that rotate refresh tokens may have spent it before they looked at the resource
 * (oidc-provider does: `refresh_token.js` consumes it, then resolves the resource), and sending a spent
 * one makes them end the whole grant, the new sign-in's included. Its sign-in keeps its access token
 * until it expires.
 */
export type AnotherApi = { entry: CacheEntry; source: "refresh" } | "refused" | undefined;

/** Whether any saved sign-in could serve (cheap, before the API is located: no request). */
export function mayRefreshForAnotherApi(ctx: CallContext): boolean {
  const warn: Warn = (message) => ctx.reporter.warn(message);
  return ctx.signIn.store.entries(warn).some(([key, entry]) => key !== ctx.signIn.key && entry.refreshToken !== undefined && !entry.dpopKey);
}

export async function refreshForAnotherApi(ctx: CallContext, target: ApiTarget): Promise<AnotherApi> {
  const { signIn, reporter, secrets } = ctx;
  const warn: Warn = (message) => reporter.warn(message);
  if (!sibling(ctx, target, warn)) return undefined;
  return signIn.withLock(async (): Promise<AnotherApi> => {
    // Read again under the lock: another kernel may have refreshed (rotated) or signed out meanwhile.
    const found = sibling(ctx, target, warn);
    if (!found) return undefined;
    const [key, entry] = found;
    const config = target.config;
    const apiName = new URL(target.api.resource).host;
    const from = entry.resource ? new URL(entry.resource).host : `scopes "${entry.scopes.join(" ")}"`;
    secrets.add(entry.accessToken);
    secrets.add(entry.refreshToken);
    reporter.progress(`Asking ${new URL(entry.metadata.issuer).host} for a token for ${apiName} with the sign-in to ${from}…`);
    const [{ refreshTokens }, { tokenContext }] = await Promise.all([import("../protocol/token.js"), import("../protocol/client-request.js")]);
    try {
      const tokenCtx = tokenContext(config, entry.metadata, { clientAuthMethod: entry.clientAuthMethod, secrets });
      const tokens = await refreshTokens(tokenCtx, entry.refreshToken!, entry.sub);
      const grant = entry.grant ?? randomUUID();
      const next: CacheEntry = { ...toEntry(config, entry.metadata, tokens, entry), grant };
      signIn.write(next);
      // The first sign-in joins the grant, with the rotated refresh token if there is one.
      if (!entry.grant) signIn.store.write(key, { ...entry, grant, refreshToken: next.refreshToken }, warn);
      else shareRefreshToken(signIn, grant, next.refreshToken, warn);
      if (tokenCtx.clockError) throw tokenCtx.clockError; // saved first: the rotated refresh token is kept
      reporter.event(`got a token for ${apiName} from the sign-in to ${from} (RFC 8707 §2.2): no browser needed`);
      return { entry: next, source: "refresh" };
    } catch (error) {
      secrets.scrubError(error);
      if (config.signal?.aborted) throw abortedError("during the token refresh", error);
      if (!(error instanceof LoginError) || error.code !== "TOKEN_REQUEST_FAILED") throw error;
      // The client itself was refused: the browser sign-in finds out and registers anew (api/obtain.ts).
      if (error.error === "invalid_client") return undefined;
      if (!isRefusal(error)) {
        reporter.notice(`${apiName}: asking for its token with the sign-in to ${from} failed (${error.message}), so you sign in in the browser.`);
        return undefined;
      }
      return refused(ctx, target, key, entry, error, warn);
    }
  });
}

/** After a refusal: the refresh token tried is dropped where it was held, and (unless it had merely expired) the server is not asked again. */
function refused(ctx: CallContext, target: ApiTarget, key: string, entry: CacheEntry, error: LoginError, warn: Warn): AnotherApi {
  const { signIn, reporter } = ctx;
  const expired = error.error === "invalid_grant";
  for (const [otherKey, other] of signIn.store.entries(warn)) {
    const holds = otherKey === key || (entry.grant !== undefined && other.grant === entry.grant);
    const sameClient = other.metadata.issuer === entry.metadata.issuer && other.clientId === entry.clientId;
    if (!holds && (expired || !sameClient)) continue;
    signIn.store.write(
      otherKey,
      { ...other, ...(holds ? { refreshToken: undefined, grant: undefined } : {}), ...(expired ? {} : { otherApis: "refused" as const }) },
      warn,
    );
  }
  const until = entry.expiresAt ? ` until ${new Date(entry.expiresAt).toLocaleTimeString()}` : "";
  const from = entry.resource ? new URL(entry.resource).host : `scopes "${entry.scopes.join(" ")}"`;
  const server = new URL(entry.metadata.issuer).host;
  reporter.notice(
    expired
      ? `The saved sign-in to ${from} at ${server} was refused by the server (${refusalText(error)}), so you sign in in the browser.`
      : `${server} would not give a token for ${new URL(target.api.resource).host} from the sign-in to ${from} (${refusalText(error)}), so you sign in in the browser. ` +
          `That refresh token may have been spent by the try (servers that rotate them can), so it is not sent again: the sign-in to ${from} keeps its token${until}, then asks for the browser.`,
  );
  return expired ? undefined : "refused";
}

/** The one saved sign-in whose refresh token may serve `target`, or undefined (none, or several users: no guess). */
function sibling(ctx: CallContext, target: ApiTarget, warn: Warn): [string, CacheEntry] | undefined {
  const { config, as } = target;
  const same = ctx.signIn.store
    .entries(warn)
    .filter(([key, entry]) => key !== ctx.signIn.key && entry.metadata.issuer === as.issuer && entry.clientId === config.clientId);
  if (same.some(([, entry]) => entry.otherApis === "refused")) return undefined;
  const usable = same
    .filter(([, entry]) => entry.refreshToken && !entry.dpopKey && entry.profile === config.profile && entry.resource !== config.resourceIndicator)
    .sort(([, a], [, b]) => b.obtainedAt - a.obtainedAt);
  const users = new Set(usable.map(([, entry]) => entry.sub));
  return users.size === 1 ? usable[0] : undefined;
}
