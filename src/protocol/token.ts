import * as oauth from "oauth4webapi";
import type { ResolvedConfig } from "../options/config.js";
import type { ServerMetadata } from "./discovery.js";
import { LoginError } from "../errors.js";
import { createTransport, discard, isTimeout, isTransportFailure, networkReason, tooLarge, type Transport } from "./http.js";

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

export function createClientAuth(config: ResolvedConfig, as: ServerMetadata): oauth.ClientAuth {
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
export function bearerTokenSet(result: oauth.TokenEndpointResponse): TokenSet {
  if (result.token_type !== "bearer") {
    throw new LoginError("INVALID_TOKEN_RESPONSE", `The token endpoint issued a "${result.token_type}" token; only Bearer tokens are supported.`);
  }
  return toTokenSet(result);
}

export function toTokenSet(response: oauth.TokenEndpointResponse, receivedAt = Date.now()): TokenSet {
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

/** Exchanges the authorization code (RFC 6749 §4.1.3 with PKCE) and validates the response. */
export async function exchangeCode(
  ctx: TokenContext,
  callbackParams: URLSearchParams,
  redirectUri: string,
  verifier: string,
  nonce: string | undefined,
): Promise<TokenSet> {
  let response: Response;
  try {
    response = await oauth.authorizationCodeGrantRequest(ctx.as, ctx.client, ctx.clientAuth, callbackParams, redirectUri, verifier, ctx.transport.options);
  } catch (cause) {
    throw requestError(ctx, cause);
  }
  try {
    const result = await oauth.processAuthorizationCodeResponse(ctx.as, ctx.client, response, {
      expectedNonce: nonce ?? oauth.expectNoNonce,
    });
    return bearerTokenSet(result);
  } catch (cause) {
    await discard(response);
    throw responseError(ctx, cause, redirectUri);
  }
}

export function requestError(ctx: TokenContext, cause: unknown, which: "token" | "revocation" | "device authorization" = "token"): LoginError {
  if (cause instanceof LoginError) return cause;
  const endpoint = which === "token" ? ctx.as.token_endpoint : which === "revocation" ? ctx.as.revocation_endpoint : ctx.as.device_authorization_endpoint;
  if (isTimeout(cause)) {
    return new LoginError(
      "TOKEN_REQUEST_FAILED",
      `The ${which} endpoint ${endpoint} did not answer within ${ctx.transport.requestTimeoutMs / 1000} s. Try again, or raise \`requestTimeout\`.`,
      { cause },
    );
  }
  if (tooLarge(cause)) {
    return new LoginError("TOKEN_REQUEST_FAILED", `The ${which} endpoint ${endpoint} sent an oversized response (${networkReason(cause)}): it is not answering as an OAuth server should.`, { cause });
  }
  const reason = networkReason(cause);
  return new LoginError("TOKEN_REQUEST_FAILED", `Could not reach the ${which} endpoint ${endpoint} (${reason}).`, { cause });
}

function oauthErrorText(error: string, description: string | undefined): string {
  return description ? `${clip(error, 100)}: ${clip(description)}` : clip(error, 100);
}

/** Server-supplied text goes into messages: keep it short and free of control characters. */
export function clip(text: string, max = 300): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export function responseError(ctx: TokenContext, cause: unknown, redirectUri?: string): LoginError {
  if (cause instanceof LoginError) return cause;
  // The body could not be read (timeout, oversized, connection cut): a failed request, not a bad answer.
  if (isTransportFailure(cause)) return requestError(ctx, cause);
  const endpoint = ctx.as.token_endpoint;
  if (cause instanceof oauth.ResponseBodyError) {
    const text = oauthErrorText(cause.error, cause.error_description);
    const hint =
      cause.error === "invalid_client" || cause.error === "unauthorized_client"
        ? " Check `clientId`, and `clientSecret` if the client was registered as confidential."
        : cause.error === "invalid_grant"
          ? ` The code may have expired or been used already${redirectUri ? `, or the server expects another redirect URI than ${redirectUri}` : ""}; run login() again.`
          : "";
    return new LoginError("TOKEN_REQUEST_FAILED", `The token endpoint refused the request (HTTP ${cause.status}, ${text}).${hint}`, {
      cause,
      error: cause.error,
      errorDescription: cause.error_description,
      status: cause.status,
    });
  }
  if (cause instanceof oauth.WWWAuthenticateChallengeError) {
    return new LoginError(
      "TOKEN_REQUEST_FAILED",
      `The token endpoint refused the client (HTTP ${cause.status}). Check \`clientId\` and \`clientSecret\`.`,
      { cause, error: cause.cause[0]?.parameters.error ?? "invalid_client", status: cause.status },
    );
  }
  // An error status without an OAuth error body; for 4xx oauth4webapi reports a body that is not
  // JSON as such, but it is still a refusal, not a token response that failed to validate.
  const failedStatus = (cause as { cause?: { status?: unknown } } | undefined)?.cause?.status;
  if (
    cause instanceof oauth.OperationProcessingError &&
    (cause.code === oauth.RESPONSE_IS_NOT_CONFORM || (cause.code === oauth.RESPONSE_IS_NOT_JSON && typeof failedStatus === "number" && failedStatus !== 200))
  ) {
    const status = (cause.cause as { status?: number } | undefined)?.status;
    return new LoginError(
      "TOKEN_REQUEST_FAILED",
      `The token endpoint ${endpoint} failed with HTTP ${status ?? "?"} and no OAuth error. The server may be down; try again later.`,
      { cause, status },
    );
  }
  if (cause instanceof oauth.OperationProcessingError && cause.code === oauth.JWT_CLAIM_COMPARISON && (cause.cause as { claim?: string })?.claim === "iss") {
    const { expected, claims } = cause.cause as { expected?: string; claims?: { iss?: unknown } };
    const named = JSON.stringify(clip(String(claims?.iss), 200));
    return new LoginError(
      "ISSUER_MISMATCH",
      `The ID token from ${endpoint} names the issuer ${named}, not ${JSON.stringify(expected)}. ` +
        `If that is your provider, set \`issuer\` to ${named} (explicit endpoints are still used as given); otherwise the token is not from the server you meant.`,
      { cause },
    );
  }
  const detail = (cause as Error)?.message ?? String(cause);
  return new LoginError(
    "INVALID_TOKEN_RESPONSE",
    `The token response from ${endpoint} did not validate (${detail}). Nothing was returned; report this to the provider's administrator if it persists.`,
    { cause },
  );
}

/**
 * Refreshes (RFC 6749 §6) and validates the response; a new ID token must name the same `sub`.
 * A refused refresh token comes back as TOKEN_REQUEST_FAILED with `error` "invalid_grant".
 */
export async function refreshTokens(ctx: TokenContext, refreshToken: string, previousSub: string | undefined): Promise<TokenSet> {
  let response: Response;
  try {
    response = await oauth.refreshTokenGrantRequest(ctx.as, ctx.client, ctx.clientAuth, refreshToken, ctx.transport.options);
  } catch (cause) {
    throw requestError(ctx, cause);
  }
  try {
    const tokens = bearerTokenSet(await oauth.processRefreshTokenResponse(ctx.as, ctx.client, response));
    const sub = tokens.claims?.sub;
    if (sub !== undefined && previousSub !== undefined && sub !== previousSub) {
      throw new LoginError("INVALID_TOKEN_RESPONSE", "The refreshed ID token names another user than the saved sign-in (OpenID Connect Core §12.2). Sign in again with `forceLogin: true`.");
    }
    return tokens;
  } catch (cause) {
    await discard(response);
    const error = responseError(ctx, cause);
    if (error.error === "invalid_grant") {
      throw new LoginError("TOKEN_REQUEST_FAILED", `The server refused the saved refresh token (HTTP ${error.status}, ${oauthErrorText("invalid_grant", error.errorDescription)}): it expired or was revoked.`, {
        cause,
        error: error.error,
        errorDescription: error.errorDescription,
        status: error.status,
      });
    }
    throw error;
  }
}

/** Revokes one token (RFC 7009). Resolves when the server confirmed; throws TOKEN_REQUEST_FAILED. */
export async function revokeToken(ctx: TokenContext, token: string, hint: "refresh_token" | "access_token"): Promise<void> {
  let response: Response;
  try {
    response = await oauth.revocationRequest(ctx.as, ctx.client, ctx.clientAuth, token, {
      ...ctx.transport.options,
      additionalParameters: { token_type_hint: hint },
    });
  } catch (cause) {
    throw requestError(ctx, cause, "revocation");
  }
  try {
    await oauth.processRevocationResponse(response);
  } catch (cause) {
    const error = responseError(ctx, cause);
    throw new LoginError("TOKEN_REQUEST_FAILED", `The revocation endpoint ${ctx.as.revocation_endpoint} refused to revoke the ${hint.replace("_", " ")} (${error.error ?? `HTTP ${error.status ?? "?"}`}).`, {
      cause,
      error: error.error,
      errorDescription: error.errorDescription,
      status: error.status,
    });
  } finally {
    await discard(response);
  }
}
