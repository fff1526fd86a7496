import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import type { SecretSet } from "../secrets.js";
import { discard } from "./body.js";
import { chooseClientAuth, clientAuthFor, mayRetryWithPost, type ClientAuthChoice, type ClientCredentials } from "./client-auth.js";
import type { DpopKey } from "./dpop.js";
import { createTransport, type NetworkOptions, type Transport } from "./http.js";
import type { ServerMetadata } from "./metadata.js";
import { bothMethodsRefusedError, requestError, type EndpointName } from "./oauth-errors.js";

/**
 * The one road for every request that authenticates the client: the code exchange, a refresh, the
 * device authorization request and its polls, client credentials, a pushed authorization request,
 * revocation. Each goes through {@link clientRequest}, so each gets the same things once: the
 * client's authentication, the Basic→post retry and the method learned from it, the DPoP proof and
 * its nonce retry, and a failure to get an answer worded the same way.
 */
export interface TokenContext {
  as: ServerMetadata;
  client: oauth.Client;
  /** How the client authenticates; a Basic refusal may switch it to post once (see client-auth.ts). */
  auth: ClientAuthChoice;
  secret: string | undefined;
  transport: Transport;
  /** The sign-in's DPoP key: every request carries a proof, and only DPoP-bound tokens are accepted. */
  dpop: DpopKey | undefined;
  /** The call's secrets: tokens and device codes join it as they arrive, so no error can show them. */
  secrets: SecretSet | undefined;
  /** The API the tokens are for (RFC 8707): every request but revocation names it. */
  resource: string | undefined;
  /** Set when an answer showed this machine's clock off by more than {@link MAX_CLOCK_SKEW_S}. */
  clockError?: LoginError | undefined;
}

/** Who the client is and how it reaches the server, the API the tokens are for, and the call's own cancellation. */
export type ClientSettings = ClientCredentials & NetworkOptions & { signal: AbortSignal | undefined; resourceIndicator: string | undefined };

export interface TokenContextOptions {
  /** Cancels its requests. Default: the settings' own `signal`. */
  signal?: AbortSignal | undefined;
  /** The client authentication method a saved sign-in found to work. */
  clientAuthMethod?: "client_secret_post" | undefined;
  /** The sign-in's DPoP key. */
  dpop?: DpopKey | undefined;
  /** The call's secret set: what the server sends back joins it. */
  secrets?: SecretSet | undefined;
}

/** What every client-authenticated request of one call needs, built once. */
export function tokenContext(config: ClientSettings, as: ServerMetadata, options: TokenContextOptions = {}): TokenContext {
  return {
    as,
    client: { client_id: config.clientId },
    auth: chooseClientAuth(config, as, options.clientAuthMethod),
    secret: config.clientSecret,
    transport: createTransport(config, "signal" in options ? options.signal : config.signal),
    dpop: options.dpop,
    secrets: options.secrets,
    resource: config.resourceIndicator,
  };
}

/**
 * The parameters every client-authenticated request adds to its own: the resource indicator (RFC
 * 8707 §2: the code exchange, every refresh, the device flow, client credentials; the pushed
 * request carries the authorization request's). The one place it is added.
 */
export function commonParameters(ctx: Pick<TokenContext, "resource">): Record<string, string> {
  return ctx.resource ? { resource: ctx.resource } : {};
}

/** The request options of one request: the transport's, and the DPoP handle when there is a key. */
export function requestOptions(ctx: TokenContext): Transport["options"] & oauth.DPoPRequestOptions & { additionalParameters?: Record<string, string> } {
  const options = ctx.dpop ? { ...ctx.transport.options, DPoP: ctx.dpop.handle } : ctx.transport.options;
  return ctx.resource ? { ...options, additionalParameters: commonParameters(ctx) } : options;
}

/** One client-authenticated request: how to send it, and how to read its answer. */
export interface ClientRequest<T> {
  /** Sends the request with this client authentication and these request options. */
  send(clientAuth: oauth.ClientAuth, options: Transport["options"] & oauth.DPoPRequestOptions): Promise<Response>;
  /** Reads and checks the answer (oauth4webapi's `process...Response`, then ours). */
  process(response: Response): Promise<T>;
  /** What a refusal or an answer that did not check out means, as a LoginError (oauth-errors.ts). */
  refused(cause: unknown): LoginError;
  /**
   * A clock off by more than {@link MAX_CLOCK_SKEW_S} is `ctx.clockError` for the caller to throw
   * once the answer is saved (a refresh: its rotated refresh token must not be lost), instead of
   * CLOCK_SKEW at once.
   */
  clockErrorAfterSave?: true;
}

/**
 * Sends one client-authenticated request to `endpoint` and reads its answer. No answer (network,
 * timeout, oversized) is TOKEN_REQUEST_FAILED naming the endpoint; a refusal is what `refused`
 * says. A server that wants its DPoP nonce gets the request once more with it (RFC 9449 §8). A
 * server that refuses Basic credentials although they may be right (it compares them undecoded,
 * or wants them in the body) gets the request once more with `client_secret_post`, and the
 * context keeps that method for the requests after it.
 */
export async function clientRequest<T>(ctx: TokenContext, endpoint: EndpointName, request: ClientRequest<T>): Promise<T> {
  const attempt = async (clientAuth: oauth.ClientAuth): Promise<T> => {
    let response: Response;
    try {
      response = await request.send(clientAuth, requestOptions(ctx));
    } catch (cause) {
      throw requestError(ctx, cause, endpoint);
    }
    try {
      judgeClock(ctx, response);
      if (ctx.clockError && !request.clockErrorAfterSave) throw ctx.clockError;
      return await request.process(response);
    } catch (cause) {
      await discard(response);
      throw cause instanceof LoginError ? cause : request.refused(cause);
    }
  };
  try {
    return await withNonce(ctx, () => attempt(clientAuthFor(ctx.auth.method, ctx.secret)));
  } catch (first) {
    if (!(first instanceof LoginError) || !mayRetryWithPost(ctx.auth, ctx.as, first)) throw first;
    try {
      const result = await withNonce(ctx, () => attempt(clientAuthFor("client_secret_post", ctx.secret)));
      ctx.auth = { method: "client_secret_post", explicit: false, learned: true };
      return result;
    } catch (second) {
      throw second instanceof LoginError ? bothMethodsRefusedError(ctx, endpoint, first, second) : second;
    }
  }
}

/**
 * How far this machine's clock may be from the server's: laptops that slept and VMs drift by
 * minutes; an hour or more is a clock set wrong (or a time zone taken for UTC).
 */
export const MAX_CLOCK_SKEW_S = 15 * 60;

/**
 * The server's clock, from the `Date` of an answer nobody cached (`no-store`, as token responses
 * are, RFC 6749 §5.1): the tokens' times are judged by it (oauth4webapi's `clockSkew`). Beyond
 * {@link MAX_CLOCK_SKEW_S}, in either direction, `ctx.clockError` is CLOCK_SKEW: this machine's
 * clock is off, and by how much (never an `exp` error that blames the provider).
 */
function judgeClock(ctx: TokenContext, response: Response): void {
  const dated = Date.parse(response.headers.get("date") ?? "");
  if (!Number.isFinite(dated) || !/\bno-store\b/i.test(response.headers.get("cache-control") ?? "")) return;
  const now = Date.now();
  // The header has whole seconds and was written before the answer arrived: a second is noise.
  const skew = Math.round((dated - now) / 1000);
  ctx.client[oauth.clockSkew] = Math.abs(skew) > 1 ? skew : 0;
  if (Math.abs(skew) <= MAX_CLOCK_SKEW_S) return;
  const iso = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
  ctx.clockError = new LoginError(
    "CLOCK_SKEW",
    `This machine's clock is ${duration(Math.abs(skew))} ${skew < 0 ? "ahead of" : "behind"} ${new URL(ctx.as.issuer).host}'s: its answer is dated ${iso(dated)}, ` +
      `and this machine says ${iso(now)}. Tokens are judged by their times, so this cannot go on. ` +
      `Set this machine's clock (turn on network time, NTP), then run again; up to ${MAX_CLOCK_SKEW_S / 60} minutes' difference is allowed for. ` +
      "If this machine's clock is right, the server's is the one that is off.",
  );
}

function duration(seconds: number): string {
  const minutes = Math.round(seconds / 60);
  return minutes >= 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes} min`;
}

/** A server that wants its own nonce in DPoP proofs answers `use_dpop_nonce` with one: oauth4webapi's handle keeps it. */
async function withNonce<T>(ctx: TokenContext, attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (!ctx.dpop || !(error instanceof LoginError) || error.error !== "use_dpop_nonce") throw error;
    return attempt();
  }
}
