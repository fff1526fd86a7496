import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import type { ResolvedConfig } from "../options/types.js";
import { createTransport, discard, type Transport } from "./http.js";
import type { ServerMetadata } from "./metadata.js";
import { refreshRefusedError, requestError, revocationRefusedError, tokenResponseError } from "./oauth-errors.js";

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
}

export interface TokenContext {
  as: ServerMetadata;
  client: oauth.Client;
  clientAuth: oauth.ClientAuth;
  transport: Transport;
}

export function createClientAuth(config: Pick<ResolvedConfig, "clientSecret" | "tokenEndpointAuthMethod">, as: ServerMetadata): oauth.ClientAuth {
  if (!config.clientSecret) return oauth.None();
  const supported = as.token_endpoint_auth_methods_supported;
  const method =
    config.tokenEndpointAuthMethod ??
    (!supported || supported.includes("client_secret_basic") || !supported.includes("client_secret_post")
      ? "client_secret_basic"
      : "client_secret_post");
  return method === "client_secret_post" ? oauth.ClientSecretPost(config.clientSecret) : oauth.ClientSecretBasic(config.clientSecret);
}

/** What every token request needs; `signal` (default: the options' own) cancels its requests. */
export function tokenContext(config: ResolvedConfig, as: ServerMetadata, signal: AbortSignal | undefined = config.signal): TokenContext {
  return {
    as,
    client: { client_id: config.clientId },
    clientAuth: createClientAuth(config, as),
    transport: createTransport(signal, config.requestTimeoutMs, config.ca),
  };
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
  const response = await send(ctx, () =>
    oauth.authorizationCodeGrantRequest(ctx.as, ctx.client, ctx.clientAuth, callbackParams, redirectUri, verifier, ctx.transport.options),
  );
  try {
    return bearerTokenSet(await oauth.processAuthorizationCodeResponse(ctx.as, ctx.client, response, { expectedNonce: nonce ?? oauth.expectNoNonce }));
  } catch (cause) {
    await discard(response);
    throw tokenResponseError(ctx, cause, redirectUri);
  }
}

/**
 * Refreshes (RFC 6749 §6) and validates the response; a new ID token must name the same `sub`.
 * A refused refresh token comes back as TOKEN_REQUEST_FAILED with `error` "invalid_grant".
 */
export async function refreshTokens(ctx: TokenContext, refreshToken: string, previousSub: string | undefined): Promise<TokenSet> {
  const response = await send(ctx, () => oauth.refreshTokenGrantRequest(ctx.as, ctx.client, ctx.clientAuth, refreshToken, ctx.transport.options));
  try {
    const tokens = bearerTokenSet(await oauth.processRefreshTokenResponse(ctx.as, ctx.client, response));
    const sub = tokens.claims?.sub;
    if (sub !== undefined && previousSub !== undefined && sub !== previousSub) {
      throw new LoginError("INVALID_TOKEN_RESPONSE", "The refreshed ID token names another user than the saved sign-in (OpenID Connect Core §12.2). Sign in again with `forceLogin: true`.");
    }
    return tokens;
  } catch (cause) {
    await discard(response);
    const error = tokenResponseError(ctx, cause);
    throw error.error === "invalid_grant" ? refreshRefusedError(error, cause) : error;
  }
}

/** Revokes one token (RFC 7009). Resolves when the server confirmed; throws TOKEN_REQUEST_FAILED. */
export async function revokeToken(ctx: TokenContext, token: string, hint: "refresh_token" | "access_token"): Promise<void> {
  const response = await send(
    ctx,
    () => oauth.revocationRequest(ctx.as, ctx.client, ctx.clientAuth, token, { ...ctx.transport.options, additionalParameters: { token_type_hint: hint } }),
    "revocation",
  );
  try {
    await oauth.processRevocationResponse(response);
  } catch (cause) {
    throw revocationRefusedError(ctx, hint, cause);
  } finally {
    await discard(response);
  }
}
