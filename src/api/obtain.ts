import { abortedError, isRefusal, LoginError, refusalText } from "../errors.js";
import type { TokenSource } from "../notebook/reporter.js";
import type { ResolvedConfig } from "../options/types.js";
import type { DpopKey } from "../protocol/dpop.js";
import type { TokenSet } from "../protocol/token.js";
import type { TokenContext } from "../protocol/client-request.js";
import type { SecretSet } from "../secrets.js";
import { isFresh, type CacheEntry } from "../store/cache.js";
import { shareRefreshToken, toEntry } from "../store/token-store.js";
import { savedTarget } from "../flows/target.js";
import type { ServerMetadata } from "../protocol/metadata.js";
import type { CallContext } from "./call.js";
import type { ApiTarget } from "../flows/api.js";
import { mayRefreshForAnotherApi, refreshForAnotherApi } from "./another-api.js";
import { oneSignIn } from "./one-sign-in.js";

/**
 * Getting a usable token: the saved one as is, else a silent refresh, else an interactive sign-in.
 * Shared by login() and session(). The protocol and flow code is loaded only when it is needed:
 * a warm login reads the cache file and nothing else.
 */

export interface Obtained {
  entry: CacheEntry;
  source: TokenSource;
}

export interface ObtainOptions {
  /** Ignore the stored entry (forceLogin). */
  skipStored?: boolean;
  /** An access token the resource server refused (401): never return it again. */
  rejected?: string | undefined;
}

export async function obtainTokens(ctx: CallContext, options: ObtainOptions = {}): Promise<Obtained> {
  const { config, signIn, secrets } = ctx;
  if (config.signal?.aborted) throw abortedError("before it started", config.signal.reason);
  let stored = options.skipStored ? undefined : signIn.read();
  if (stored?.dpopKey && !(await savedKey(ctx, stored))) {
    await signIn.save(undefined);
    stored = undefined;
  }
  if (stored && stored.secrets !== "keychain" && signIn.store.secretsIn === "keychain") {
    // Saved in the file while no secret store could be used: moved into it now, no new sign-in.
    stored = await signIn.withLock(() => {
      const current = signIn.read();
      if (current && current.secrets !== "keychain") signIn.write(current);
      return current;
    });
  }
  if (stored) {
    addSecrets(secrets, stored);
    if (isFresh(stored) && stored.accessToken !== options.rejected) return { entry: stored, source: "cache" };
    if (stored.refreshToken) {
      // Overlapping refreshes of one sign-in in this process share one.
      const refreshed = await signIn.once(() => refreshUnderLock(ctx, options.rejected));
      if (refreshed) return refreshed;
    }
  }
  // A second API at a server already signed in to: its refresh token first (RFC 8707 §2.2).
  let located: ApiTarget | undefined;
  let otherApis: CacheEntry["otherApis"];
  if (config.resource && !options.skipStored && config.grant !== "client_credentials" && !config.dpop) {
    if (mayRefreshForAnotherApi(ctx)) {
      const { locateApi } = await import("../flows/api.js");
      located = await locateApi(ctx, signIn);
      const got = await refreshForAnotherApi(ctx, located);
      if (got === "refused") otherApis = "refused";
      else if (got) return got;
    }
  }
  if (!config.interactive && config.grant !== "client_credentials") throw interactionRequired(config, stored !== undefined);
  // One browser sign-in for every caller asking for this one now, in this process or another (one-sign-in.ts).
  const entry = await oneSignIn(ctx, async (flow) => {
    const { tokens, as, used } = await signInOnce(flow, stored, located);
    const entry: CacheEntry = { ...toEntry(used, as, tokens, undefined), otherApis };
    const saved = config.grant === "client_credentials" ? { ...entry, name: `service client ${used.clientId}` } : entry;
    await flow.signIn.save(saved);
    return saved;
  });
  addSecrets(secrets, entry);
  return { entry, source: "sign-in" };
}

/**
 * A new sign-in: a service account's token, or a browser sign-in. By `resource`, the API says where
 * and with which client first (flows/api.ts); a client this machine registered that the server has
 * forgotten (`invalid_client`) is registered anew, once.
 */
async function signInOnce(
  ctx: CallContext,
  stored: CacheEntry | undefined,
  located: ApiTarget | undefined,
): Promise<{ tokens: TokenSet; as: ServerMetadata; used: ResolvedConfig }> {
  const run = async (flow: CallContext): Promise<{ tokens: TokenSet; as: ServerMetadata }> => {
    if (flow.config.grant === "client_credentials") {
      const { runServiceAccount } = await import("../flows/service.js");
      return runServiceAccount(flow, stored?.dpopKey);
    }
    const { signInInteractively } = await import("../flows/choose.js");
    return signInInteractively(flow);
  };
  if (!ctx.config.resource) return { ...(await run(ctx)), used: ctx.config };
  const { locateApi, forgetRegistration } = await import("../flows/api.js");
  for (let attempt = 1; ; attempt++) {
    const target = attempt === 1 && located ? located : await locateApi(ctx, ctx.signIn);
    try {
      return { ...(await run({ ...ctx, config: target.config })), used: target.config };
    } catch (error) {
      if (!target.registered || attempt > 1 || !(error instanceof LoginError) || error.error !== "invalid_client") throw error;
      ctx.reporter.notice(
        `${target.as.issuer} no longer knows the client this machine registered there (${target.config.clientId}), so a new one is registered.`,
      );
      await forgetRegistration(ctx.signIn, target.as.issuer, target.config.clientId, (message) => ctx.reporter.warn(message));
    }
  }
}

/**
 * Refreshes under the cross-process lock. The entry is read again once the lock is held: another
 * kernel may have refreshed meanwhile (its token is used, and its rotated refresh token never sent
 * twice: oidc-provider and others revoke the whole grant on reuse) or signed out.
 * Resolves undefined when only the browser can help (entry gone, or the refresh token refused).
 */
function refreshUnderLock(ctx: CallContext, rejected: string | undefined): Promise<Obtained | undefined> {
  const { config, signIn, reporter } = ctx;
  reporter.progress(`Refreshing the token for ${config.issuerId ?? config.tokenEndpoint?.origin ?? config.resource?.host}…`);
  return signIn.withLock(() => refreshHeld(ctx, rejected));
}

async function refreshHeld(call: CallContext, rejected: string | undefined): Promise<Obtained | undefined> {
  const current = call.signIn.read();
  if (!current) return undefined;
  // By `resource`: the saved sign-in says which server and client it was made with.
  const ctx = call.config.resource ? { ...call, config: savedTarget(call.config, current, call.signIn, (message) => call.reporter.warn(message)) } : call;
  const { config, signIn, reporter, secrets } = ctx;
  addSecrets(secrets, current);
  if (isFresh(current) && current.accessToken !== rejected) return { entry: current, source: "cache" };
  if (!current.refreshToken) return undefined;
  const [{ refreshTokens }, { tokenContext }] = await Promise.all([import("../protocol/token.js"), import("../protocol/client-request.js")]);
  let tokens: TokenSet;
  let tokenCtx: TokenContext | undefined;
  try {
    // A DPoP-bound refresh token is refreshed with its own key (RFC 9449 §5), saved with it.
    const dpop = current.dpopKey ? await savedKey(ctx, current) : undefined;
    if (current.dpopKey && !dpop) {
      signIn.write(undefined);
      return undefined;
    }
    tokenCtx = tokenContext(config, current.metadata, { clientAuthMethod: current.clientAuthMethod, dpop, secrets });
    tokens = await refreshTokens(tokenCtx, current.refreshToken, current.sub);
  } catch (error) {
    secrets.scrubError(error);
    if (config.signal?.aborted) throw abortedError("during the token refresh", error);
    if (!(error instanceof LoginError) || error.code !== "TOKEN_REQUEST_FAILED") throw error;
    if (isRefusal(error)) {
      // The server said no to this refresh token, in whatever words: only a new sign-in helps.
      signIn.write(undefined);
      // A client this machine registered that the server no longer knows: the sign-in registers anew (the lock is held).
      const warn = (message: string): void => reporter.warn(message);
      if (
        error.error === "invalid_client" &&
        config.resource &&
        !call.config.clientId &&
        signIn.store.registration(current.metadata.issuer, warn)?.clientId === config.clientId
      ) {
        signIn.store.saveRegistration(current.metadata.issuer, undefined, warn);
      }
      reporter.notice(
        `The saved sign-in to ${current.metadata.issuer} was refused by the server (${refusalText(error)}), so you need to sign in again in the browser.`,
      );
      return undefined;
    }
    throw new LoginError(
      error.code,
      `${error.message} The saved sign-in is kept for the next try; to sign in again in the browser instead, pass \`forceLogin: true\`.`,
      { cause: error, error: error.error, errorDescription: error.errorDescription, status: error.status },
    );
  }
  const next = toEntry(config, current.metadata, tokens, current);
  signIn.write(next);
  if (next.grant && next.refreshToken !== current.refreshToken) shareRefreshToken(signIn, next.grant, next.refreshToken, (message) => reporter.warn(message));
  // A clock far off: the rotated tokens are saved, and then it is said.
  if (tokenCtx?.clockError) throw tokenCtx.clockError;
  return { entry: next, source: "refresh" };
}

/**
 * The key a saved DPoP sign-in is bound to. A key that cannot be imported (the file was edited or
 * damaged) makes the sign-in useless: the user is told, and undefined returned so that the caller
 * removes it and signs in again (never a raw WebCrypto error).
 */
async function savedKey(ctx: CallContext, entry: CacheEntry): Promise<DpopKey | undefined> {
  const { importDpopKey } = await import("../protocol/dpop.js");
  try {
    return await importDpopKey(entry.dpopKey!, { client_id: ctx.config.clientId });
  } catch (error) {
    ctx.reporter.notice(
      `The saved sign-in to ${entry.metadata.issuer} has a DPoP key that cannot be used (${(error as Error)?.message ?? String(error)}), so it was removed and you need to sign in again.`,
    );
    return undefined;
  }
}

/** `interactive: false` and no saved sign-in that works: say how to prepare such a run. */
export function interactionRequired(config: ResolvedConfig, hadEntry: boolean): LoginError {
  const where = config.issuerId ?? config.tokenEndpoint?.origin ?? config.resource?.href;
  const profile = config.profile ? ` --profile ${config.profile}` : config.resource ? ` --resource ${config.resource.href}` : "";
  const client = config.clientId ? ` for client ${JSON.stringify(config.clientId)}` : "";
  return new LoginError(
    "INTERACTION_REQUIRED",
    `${hadEntry ? "The saved sign-in" : "No saved sign-in"} to ${where}${client}${hadEntry ? " could not be renewed" : " exists on this machine"}, and interactive sign-in is off (\`interactive: false\` or $TSLAB_OAUTH_INTERACTIVE=0). ` +
      `Prepare this machine once: run the same login interactively here (in a notebook, or \`npx tslab-oauth token${profile}\` in a terminal), then run again; ` +
      'or, for a scheduled job, sign in as a service account: `grant: "client_credentials"` with the client\'s secret in a profile or the environment.',
  );
}

function addSecrets(
  secrets: SecretSet,
  tokens: { accessToken: string; refreshToken: string | undefined; dpopKey?: { d: string } | { jwk: { d: string } } | undefined },
): void {
  secrets.add(tokens.accessToken);
  secrets.add(tokens.refreshToken);
  const key = tokens.dpopKey;
  if (key) secrets.add("jwk" in key ? key.jwk.d : key.d);
}
