import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import type { ResolvedConfig } from "../options/types.js";
import { chooseClientAuth, clientAuthFor, mayRetryWithPost, type ClientAuthChoice } from "./client-auth.js";
import { discard } from "./body.js";
import type { DpopKey } from "./dpop.js";
import { createTransport, type Transport } from "./http.js";
import type { ServerMetadata } from "./metadata.js";
import { clip } from "../util/text.js";
import { bothMethodsRefusedError, refreshRefusedError, requestError, revocationRefusedError, tokenResponseError, type EndpointName } from "./oauth-errors.js";

/** Tokens as kept by tslab-oauth, converted once when the response arrives. Never printed. */
export interface TokenSet {
  accessToken: string;
  /** "DPoP" when the token is bound to the sign-in's key (RFC 9449), sent with a proof each time. */
  tokenType: "Bearer" | "DPoP";
  /** Epoch milliseconds, computed from `expires_in` when the response arrived. */
  expiresAt: number | undefined;
  refreshToken: string | undefined;
  idToken: string | undefined;
  scope: string | undefined;
  /** Validated ID token claims, when an ID token came back. */
  claims: oauth.IDToken | undefined;
  /** The key the tokens are bound to, with DPoP. */
  dpopKey?: DpopKey | undefined;
  /** Set when the server refused Basic credentials and accepted them in the body: keep using that. */
  learnedAuth?: "client_secret_post" | undefined;
}

export interface TokenContext {
  as: ServerMetadata;
  client: oauth.Client;
  /** How the client authenticates; a Basic refusal may switch it to post once (see client-auth.ts). */
  auth: ClientAuthChoice;
  secret: string | undefined;
  transport: Transport;
  /** The sign-in's DPoP key: every request carries a proof, and only DPoP-bound tokens are accepted. */
  dpop: DpopKey | undefined;
}

/**
 * What every token request needs; `signal` (default: the options' own) cancels its requests;
 * `learned` is the client authentication method a saved sign-in found to work; `dpop` the
 * sign-in's DPoP key.
 */
export function tokenContext(
  config: ResolvedConfig,
  as: ServerMetadata,
  signal: AbortSignal | undefined = config.signal,
  learned?: "client_secret_post",
  dpop?: DpopKey,
): TokenContext {
  return {
    as,
    client: { client_id: config.clientId },
    auth: chooseClientAuth(config, as, learned),
    secret: config.clientSecret,
    transport: createTransport(config, signal),
    dpop,
  };
}

/** The request options of one request: the transport's, and the DPoP handle when there is a key. */
export function requestOptions(ctx: TokenContext): Transport["options"] & oauth.DPoPRequestOptions {
  return ctx.dpop ? { ...ctx.transport.options, DPoP: ctx.dpop.handle } : ctx.transport.options;
}

/** The client authentication to send now. */
export function currentClientAuth(ctx: TokenContext): oauth.ClientAuth {
  return clientAuthFor(ctx.auth.method, ctx.secret);
}

/**
 * Runs one request-and-check with the client's authentication. A server that refuses Basic
 * credentials although they may be right (it compares them undecoded, or wants them in the body)
 * gets the same request once more with `client_secret_post`; the context then keeps that method.
 */
export async function authenticated<T>(ctx: TokenContext, which: EndpointName, attempt: (clientAuth: oauth.ClientAuth) => Promise<T>): Promise<T> {
  try {
    return await withNonce(ctx, () => attempt(currentClientAuth(ctx)));
  } catch (first) {
    if (!(first instanceof LoginError) || !mayRetryWithPost(ctx.auth, ctx.as, first)) throw first;
    try {
      const result = await withNonce(ctx, () => attempt(clientAuthFor("client_secret_post", ctx.secret)));
      ctx.auth = { method: "client_secret_post", explicit: false };
      return result;
    } catch (second) {
      throw second instanceof LoginError ? bothMethodsRefusedError(ctx, which, first, second) : second;
    }
  }
}

/**
 * A server that wants its own nonce in DPoP proofs answers `use_dpop_nonce` with one (RFC 9449
 * §8): oauth4webapi's handle keeps it, and the request is sent once more with it.
 */
async function withNonce<T>(ctx: TokenContext, attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (!ctx.dpop || !(error instanceof LoginError) || error.error !== "use_dpop_nonce") throw error;
    return attempt();
  }
}

/** Tokens from a grant, marked with the method the client had to switch to, if it did. */
function learnedBy(ctx: TokenContext, before: ClientAuthChoice, tokens: TokenSet): TokenSet {
  return ctx.auth.method === "client_secret_post" && before.method !== "client_secret_post" ? { ...tokens, learnedAuth: "client_secret_post" } : tokens;
}

/**
 * A validated token response as a TokenSet: a Bearer token, or with a DPoP key a DPoP-bound one.
 * A server that answers a proof with a Bearer token does not do DPoP: that token is not kept.
 */
export function toTokenSet(ctx: Pick<TokenContext, "dpop" | "as">, response: oauth.TokenEndpointResponse, receivedAt = Date.now()): TokenSet {
  const expected = ctx.dpop ? "dpop" : "bearer";
  if (response.token_type !== expected) {
    throw new LoginError(
      "INVALID_TOKEN_RESPONSE",
      ctx.dpop && response.token_type === "bearer"
        ? `${ctx.as.issuer} answered the DPoP proof with a Bearer token: it did not bind the token to this sign-in's key (RFC 9449), so the token was not kept. Remove \`dpop: true\` to sign in with Bearer tokens there.`
        : `The token endpoint issued a "${clip(response.token_type, 40)}" token; ${ctx.dpop ? "with `dpop: true` only DPoP-bound tokens are" : "only Bearer tokens are"} accepted${ctx.dpop ? "" : " (pass `dpop: true` to `session()` for a server that binds tokens to a key)"}.`,
    );
  }
  return {
    accessToken: response.access_token,
    tokenType: ctx.dpop ? "DPoP" : "Bearer",
    expiresAt: typeof response.expires_in === "number" ? receivedAt + response.expires_in * 1000 : undefined,
    refreshToken: response.refresh_token,
    idToken: response.id_token,
    scope: response.scope,
    claims: oauth.getValidatedIdTokenClaims(response),
    dpopKey: ctx.dpop,
  };
}

/** Sends a request; a failure to get an answer becomes TOKEN_REQUEST_FAILED. */
async function send(ctx: TokenContext, request: () => Promise<Response>, which: "token" | "revocation" = "token"): Promise<Response> {
  try {
    return await request();
  } catch (cause) {
    throw requestError(ctx, cause, which);
  }
}

/** Exchanges the authorization code (RFC 6749 §4.1.3 with PKCE) and validates the response. */
export async function exchangeCode(
  ctx: TokenContext,
  callbackParams: URLSearchParams,
  redirectUri: string,
  verifier: string,
  nonce: string | undefined,
): Promise<TokenSet> {
  const before = ctx.auth;
  const tokens = await authenticated(ctx, "token", async (clientAuth) => {
    const response = await send(ctx, () =>
      oauth.authorizationCodeGrantRequest(ctx.as, ctx.client, clientAuth, callbackParams, redirectUri, verifier, requestOptions(ctx)),
    );
    try {
      return toTokenSet(ctx, await oauth.processAuthorizationCodeResponse(ctx.as, ctx.client, response, { expectedNonce: nonce ?? oauth.expectNoNonce }));
    } catch (cause) {
      await discard(response);
      throw tokenResponseError(ctx, cause, redirectUri);
    }
  });
  return learnedBy(ctx, before, tokens);
}

/**
 * Refreshes (RFC 6749 §6) and validates the response; a new ID token must name the same `sub`.
 * A refused refresh token comes back as TOKEN_REQUEST_FAILED with `error` "invalid_grant".
 */
export async function refreshTokens(ctx: TokenContext, refreshToken: string, previousSub: string | undefined): Promise<TokenSet> {
  const before = ctx.auth;
  const tokens = await authenticated(ctx, "token", async (clientAuth) => {
    const response = await send(ctx, () => oauth.refreshTokenGrantRequest(ctx.as, ctx.client, clientAuth, refreshToken, requestOptions(ctx)));
    try {
      return toTokenSet(ctx, await oauth.processRefreshTokenResponse(ctx.as, ctx.client, response));
    } catch (cause) {
      await discard(response);
      const error = tokenResponseError(ctx, cause);
      throw error.error === "invalid_grant" ? refreshRefusedError(error, cause) : error;
    }
  });
  const sub = tokens.claims?.sub;
  if (sub !== undefined && previousSub !== undefined && sub !== previousSub) {
    throw new LoginError("INVALID_TOKEN_RESPONSE", "The refreshed ID token names another user than the saved sign-in (OpenID Connect Core §12.2). Sign in again with `forceLogin: true`.");
  }
  return learnedBy(ctx, before, tokens);
}

/** A service account's token (RFC 6749 §4.4): the client signs in as itself. */
export async function clientCredentials(ctx: TokenContext, scopes: readonly string[], extraParams: Record<string, string>): Promise<TokenSet> {
  const params = new URLSearchParams(extraParams);
  if (scopes.length > 0) params.set("scope", scopes.join(" "));
  const before = ctx.auth;
  const tokens = await authenticated(ctx, "token", async (clientAuth) => {
    const response = await send(ctx, () => oauth.clientCredentialsGrantRequest(ctx.as, ctx.client, clientAuth, params, requestOptions(ctx)));
    try {
      return toTokenSet(ctx, (await oauth.processClientCredentialsResponse(ctx.as, ctx.client, response)) as oauth.TokenEndpointResponse);
    } catch (cause) {
      await discard(response);
      throw tokenResponseError(ctx, cause);
    }
  });
  return learnedBy(ctx, before, tokens);
}

/** Revokes one token (RFC 7009). Resolves when the server confirmed; throws TOKEN_REQUEST_FAILED. */
export async function revokeToken(ctx: TokenContext, token: string, hint: "refresh_token" | "access_token"): Promise<void> {
  await authenticated(ctx, "revocation", async (clientAuth) => {
    const response = await send(
      ctx,
      () => oauth.revocationRequest(ctx.as, ctx.client, clientAuth, token, { ...ctx.transport.options, additionalParameters: { token_type_hint: hint } }),
      "revocation",
    );
    try {
      await oauth.processRevocationResponse(response);
    } catch (cause) {
      throw revocationRefusedError(ctx, hint, cause);
    } finally {
      await discard(response);
    }
  });
}
