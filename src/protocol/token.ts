import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import type { ResolvedConfig } from "../options/types.js";
import { chooseClientAuth, clientAuthFor, mayRetryWithPost, type ClientAuthChoice } from "./client-auth.js";
import { discard } from "./body.js";
import { createTransport, type Transport } from "./http.js";
import type { ServerMetadata } from "./metadata.js";
import { bothMethodsRefusedError, refreshRefusedError, requestError, revocationRefusedError, tokenResponseError, type EndpointName } from "./oauth-errors.js";

/** Tokens as kept by tslab-oauth, converted once when the response arrives. Never printed. */
export interface TokenSet {
  accessToken: string;
  tokenType: "Bearer";
  /** Epoch milliseconds, computed from `expires_in` when the response arrived. */
  expiresAt: number | undefined;
  refreshToken: string | undefined;
  idToken: string | undefined;
  scope: string | undefined;
  /** Validated ID token claims, when an ID token came back. */
  claims: oauth.IDToken | undefined;
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
}

/**
 * What every token request needs; `signal` (default: the options' own) cancels its requests;
 * `learned` is the client authentication method a saved sign-in found to work.
 */
export function tokenContext(
  config: ResolvedConfig,
  as: ServerMetadata,
  signal: AbortSignal | undefined = config.signal,
  learned?: "client_secret_post",
): TokenContext {
  return {
    as,
    client: { client_id: config.clientId },
    auth: chooseClientAuth(config, as, learned),
    secret: config.clientSecret,
    transport: createTransport(config, signal),
  };
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
async function authenticated<T>(ctx: TokenContext, which: EndpointName, attempt: (clientAuth: oauth.ClientAuth) => Promise<T>): Promise<T> {
  try {
    return await attempt(currentClientAuth(ctx));
  } catch (first) {
    if (!(first instanceof LoginError) || !mayRetryWithPost(ctx.auth, ctx.as, first)) throw first;
    try {
      const result = await attempt(clientAuthFor("client_secret_post", ctx.secret));
      ctx.auth = { method: "client_secret_post", explicit: false };
      return result;
    } catch (second) {
      throw second instanceof LoginError ? bothMethodsRefusedError(ctx, which, first, second) : second;
    }
  }
}

/** Tokens from a grant, marked with the method the client had to switch to, if it did. */
function learnedBy(ctx: TokenContext, before: ClientAuthChoice, tokens: TokenSet): TokenSet {
  return ctx.auth.method === "client_secret_post" && before.method !== "client_secret_post" ? { ...tokens, learnedAuth: "client_secret_post" } : tokens;
}

/** A validated token response as a TokenSet; only Bearer tokens are accepted. */
export function bearerTokenSet(response: oauth.TokenEndpointResponse, receivedAt = Date.now()): TokenSet {
  if (response.token_type !== "bearer") {
    throw new LoginError("INVALID_TOKEN_RESPONSE", `The token endpoint issued a "${response.token_type}" token; only Bearer tokens are supported.`);
  }
  return {
    accessToken: response.access_token,
    tokenType: "Bearer",
    expiresAt: typeof response.expires_in === "number" ? receivedAt + response.expires_in * 1000 : undefined,
    refreshToken: response.refresh_token,
    idToken: response.id_token,
    scope: response.scope,
    claims: oauth.getValidatedIdTokenClaims(response),
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
      oauth.authorizationCodeGrantRequest(ctx.as, ctx.client, clientAuth, callbackParams, redirectUri, verifier, ctx.transport.options),
    );
    try {
      return bearerTokenSet(await oauth.processAuthorizationCodeResponse(ctx.as, ctx.client, response, { expectedNonce: nonce ?? oauth.expectNoNonce }));
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
    const response = await send(ctx, () => oauth.refreshTokenGrantRequest(ctx.as, ctx.client, clientAuth, refreshToken, ctx.transport.options));
    try {
      return bearerTokenSet(await oauth.processRefreshTokenResponse(ctx.as, ctx.client, response));
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
    const response = await send(ctx, () => oauth.clientCredentialsGrantRequest(ctx.as, ctx.client, clientAuth, params, ctx.transport.options));
    try {
      return bearerTokenSet((await oauth.processClientCredentialsResponse(ctx.as, ctx.client, response)) as oauth.TokenEndpointResponse);
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
