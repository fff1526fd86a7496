import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import { clientRequest, commonParameters, type TokenContext } from "./client-request.js";
import { discard } from "./body.js";
import type { DpopKey } from "./dpop.js";
import { clip } from "../util/text.js";
import { refreshRefusedError, revocationRefusedError, tokenResponseError } from "./oauth-errors.js";

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
  clientAuthMethod?: "client_secret_post" | undefined;
}

/**
 * Tokens from a grant, marked with the method the client was found to need (in this call or a
 * saved sign-in's), so that the saved sign-in keeps it for its refreshes and revocation.
 */
export function withClientAuthMethod(ctx: TokenContext, tokens: TokenSet): TokenSet {
  return ctx.auth.learned ? { ...tokens, clientAuthMethod: "client_secret_post" } : tokens;
}

/**
 * A validated token response as a TokenSet: a Bearer token, or with a DPoP key a DPoP-bound one.
 * A server that answers a proof with a Bearer token does not do DPoP: that token is not kept. The
 * tokens join the call's secrets here, the one place they arrive.
 */
export function toTokenSet(ctx: Pick<TokenContext, "dpop" | "as" | "secrets">, response: oauth.TokenEndpointResponse, receivedAt = Date.now()): TokenSet {
  // Secret from the moment they arrive: no later error, log or notice can show them.
  for (const value of [response.access_token, response.refresh_token, response.id_token]) ctx.secrets?.add(value);
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

/** Exchanges the authorization code (RFC 6749 §4.1.3 with PKCE) and validates the response. */
export async function exchangeCode(
  ctx: TokenContext,
  callbackParams: URLSearchParams,
  redirectUri: string,
  verifier: string,
  nonce: string | undefined,
): Promise<TokenSet> {
  const tokens = await clientRequest(ctx, "token", {
    send: (clientAuth, options) => oauth.authorizationCodeGrantRequest(ctx.as, ctx.client, clientAuth, callbackParams, redirectUri, verifier, options),
    process: async (response) =>
      toTokenSet(ctx, await oauth.processAuthorizationCodeResponse(ctx.as, ctx.client, response, { expectedNonce: nonce ?? oauth.expectNoNonce })),
    refused: (cause) => tokenResponseError(ctx, cause, redirectUri),
  });
  return withClientAuthMethod(ctx, tokens);
}

/**
 * Refreshes (RFC 6749 §6) and validates the response; a new ID token must name the same `sub`.
 * A refused refresh token comes back as TOKEN_REQUEST_FAILED with `error` "invalid_grant".
 */
export async function refreshTokens(ctx: TokenContext, refreshToken: string, previousSub: string | undefined): Promise<TokenSet> {
  const tokens = await clientRequest(ctx, "token", {
    send: (clientAuth, options) => oauth.refreshTokenGrantRequest(ctx.as, ctx.client, clientAuth, refreshToken, options),
    process: async (response) => toTokenSet(ctx, await oauth.processRefreshTokenResponse(ctx.as, ctx.client, response)),
    refused: (cause) => {
      const error = tokenResponseError(ctx, cause);
      return error.error === "invalid_grant" ? refreshRefusedError(error, cause) : error;
    },
    // Its answer may hold a rotated refresh token: saved first, then ctx.clockError thrown.
    clockErrorAfterSave: true,
  });
  const sub = tokens.claims?.sub;
  if (sub !== undefined && previousSub !== undefined && sub !== previousSub) {
    throw new LoginError(
      "INVALID_TOKEN_RESPONSE",
      "The refreshed ID token names another user than the saved sign-in (OpenID Connect Core §12.2). Sign in again with `forceLogin: true`.",
    );
  }
  return withClientAuthMethod(ctx, tokens);
}

/** A service account's token (RFC 6749 §4.4): the client signs in as itself. */
export async function clientCredentials(ctx: TokenContext, scopes: readonly string[], extraParams: Record<string, string>): Promise<TokenSet> {
  const params = new URLSearchParams({ ...extraParams, ...commonParameters(ctx) });
  if (scopes.length > 0) params.set("scope", scopes.join(" "));
  const tokens = await clientRequest(ctx, "token", {
    send: (clientAuth, options) => oauth.clientCredentialsGrantRequest(ctx.as, ctx.client, clientAuth, params, options),
    process: async (response) => toTokenSet(ctx, (await oauth.processClientCredentialsResponse(ctx.as, ctx.client, response)) as oauth.TokenEndpointResponse),
    refused: (cause) => tokenResponseError(ctx, cause),
  });
  return withClientAuthMethod(ctx, tokens);
}

/** Revokes one token (RFC 7009). Resolves when the server confirmed; throws TOKEN_REQUEST_FAILED. */
export async function revokeToken(ctx: TokenContext, token: string, hint: "refresh_token" | "access_token"): Promise<void> {
  await clientRequest(ctx, "revocation", {
    send: (clientAuth) =>
      oauth.revocationRequest(ctx.as, ctx.client, clientAuth, token, { ...ctx.transport.options, additionalParameters: { token_type_hint: hint } }),
    process: async (response) => {
      await oauth.processRevocationResponse(response);
      await discard(response);
    },
    refused: (cause) => revocationRefusedError(ctx, hint, cause),
  });
}
