import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import { clip } from "../util/text.js";
import type { ServerMetadata } from "./metadata.js";
import { isTimeout, isTransportFailure, networkReason, tooLarge, viaProxy } from "./network-errors.js";

/**
 * The one place where what a server answered (or failed to answer) becomes a {@link LoginError}:
 * transport failures, OAuth error responses (RFC 6749 §5.2, §4.1.2.1; RFC 8628 §3.5; RFC 7009
 * §2.2.1), and token responses that did not validate. Each message says what happened, quotes the
 * server's `error` (clipped), and names the option to change; the dependency's error is `cause`.
 */

/** What the mapping needs to know about the request that failed. */
export interface RequestSite {
  as: ServerMetadata;
  transport: { requestTimeoutMs: number };
}

export type EndpointName = "token" | "revocation" | "device authorization" | "pushed authorization request";

const ENDPOINT_FIELDS = {
  token: "token_endpoint",
  revocation: "revocation_endpoint",
  "device authorization": "device_authorization_endpoint",
  "pushed authorization request": "pushed_authorization_request_endpoint",
} as const;

function endpointUrl(site: RequestSite, which: EndpointName): string | undefined {
  return site.as[ENDPOINT_FIELDS[which]];
}

function oauthErrorText(error: string, description: string | undefined): string {
  return description ? `${clip(error, 100)}: ${clip(description)}` : clip(error, 100);
}

/** The OAuth fields of an error, for a LoginError that wraps it. */
function oauthFields(error: { error?: string | undefined; errorDescription?: string | undefined; status?: number | undefined }) {
  return { error: error.error, errorDescription: error.errorDescription, status: error.status };
}

/** A request that got no usable answer: timeout, oversized body, network or TLS failure. */
export function requestError(site: RequestSite, cause: unknown, which: EndpointName = "token"): LoginError {
  if (cause instanceof LoginError) return cause;
  const endpoint = endpointUrl(site, which);
  if (isTimeout(cause)) {
    return new LoginError(
      "TOKEN_REQUEST_FAILED",
      `The ${which} endpoint ${endpoint} did not answer within ${site.transport.requestTimeoutMs / 1000} s${viaProxy(cause)}. Try again, or raise \`requestTimeout\`.`,
      { cause },
    );
  }
  if (tooLarge(cause)) {
    return new LoginError(
      "TOKEN_REQUEST_FAILED",
      `The ${which} endpoint ${endpoint} sent an oversized response (${networkReason(cause)}): it is not answering as an OAuth server should.`,
      { cause },
    );
  }
  return new LoginError("TOKEN_REQUEST_FAILED", `Could not reach the ${which} endpoint ${endpoint} (${networkReason(cause)}).`, { cause });
}

/** A token endpoint answer that is an error, or a token response that did not validate. */
export function tokenResponseError(site: RequestSite, cause: unknown, redirectUri?: string, which: EndpointName = "token"): LoginError {
  if (cause instanceof LoginError) return cause;
  // The body could not be read (timeout, oversized, connection cut): a failed request, not a bad answer.
  if (isTransportFailure(cause)) return requestError(site, cause, which);
  const endpoint = endpointUrl(site, which);
  if (cause instanceof oauth.ResponseBodyError) {
    const hint =
      cause.error === "invalid_client" || cause.error === "unauthorized_client"
        ? " Check `clientId`, and `clientSecret` if the client was registered as confidential."
        : cause.error === "invalid_grant"
          ? ` The code may have expired or been used already${redirectUri ? `, or the server expects another redirect URI than ${redirectUri}` : ""}; run login() again.`
          : "";
    return new LoginError(
      "TOKEN_REQUEST_FAILED",
      `The ${which} endpoint refused the request (HTTP ${cause.status}, ${oauthErrorText(cause.error, cause.error_description)}).${hint}`,
      {
        cause,
        error: cause.error,
        errorDescription: cause.error_description,
        status: cause.status,
      },
    );
  }
  if (cause instanceof oauth.WWWAuthenticateChallengeError) {
    return new LoginError("TOKEN_REQUEST_FAILED", `The ${which} endpoint refused the client (HTTP ${cause.status}). Check \`clientId\` and \`clientSecret\`.`, {
      cause,
      error: cause.cause[0]?.parameters.error ?? "invalid_client",
      status: cause.status,
    });
  }
  // An error status without an OAuth error body; for 4xx oauth4webapi reports a body that is not
  // JSON as such, but it is still a refusal, not a token response that failed to validate.
  const status = (cause as { cause?: { status?: unknown } } | undefined)?.cause?.status;
  if (
    cause instanceof oauth.OperationProcessingError &&
    (cause.code === oauth.RESPONSE_IS_NOT_CONFORM || (cause.code === oauth.RESPONSE_IS_NOT_JSON && typeof status === "number" && status !== 200))
  ) {
    return new LoginError(
      "TOKEN_REQUEST_FAILED",
      `The ${which} endpoint ${endpoint} failed with HTTP ${typeof status === "number" ? status : "?"} and no OAuth error. The server may be down; try again later.`,
      {
        cause,
        status: typeof status === "number" ? status : undefined,
      },
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
  return new LoginError(
    "INVALID_TOKEN_RESPONSE",
    `The token response from ${endpoint} did not validate (${(cause as Error)?.message ?? String(cause)}). Nothing was returned; report this to the provider's administrator if it persists.`,
    { cause },
  );
}

/** The server refused the saved refresh token (`invalid_grant`): only a new sign-in helps. */
export function refreshRefusedError(error: LoginError, cause: unknown): LoginError {
  return new LoginError(
    "TOKEN_REQUEST_FAILED",
    `The server refused the saved refresh token (HTTP ${error.status}, ${oauthErrorText("invalid_grant", error.errorDescription)}): it expired or was revoked.`,
    { cause, ...oauthFields(error) },
  );
}

/** The revocation endpoint answered with an error (RFC 7009 §2.2.1). */
export function revocationRefusedError(site: RequestSite, hint: "refresh_token" | "access_token", cause: unknown): LoginError {
  const error = tokenResponseError(site, cause);
  return new LoginError(
    "TOKEN_REQUEST_FAILED",
    `The revocation endpoint ${site.as.revocation_endpoint} refused to revoke the ${hint.replace("_", " ")} (${error.error ?? `HTTP ${error.status ?? "?"}`}).`,
    { cause, ...oauthFields(error) },
  );
}

/**
 * logout(): the refresh token could not be revoked, so nothing was removed. Some servers refuse
 * revocation from public clients (RFC 7009 §2.1 says they should accept it): say what that means.
 */
export function revocationFailedError(error: LoginError, publicClient: boolean): LoginError {
  const refused = error.status === 400 || error.status === 401 || error.status === 403;
  const why = refused && publicClient ? " This server may accept revocation only from clients with a secret." : "";
  return new LoginError(
    "REVOCATION_FAILED",
    `${error.message}${why} Nothing was removed, and the tokens stay valid at the server until they expire: run logout() again, or pass \`revoke: false\` to only forget them on this machine.`,
    { cause: error, error: error.error, status: error.status },
  );
}

/** An error redirect back from the authorization endpoint (RFC 6749 §4.1.2.1). */
export function authorizationDeniedError(error: string, description: string | undefined, cause: unknown): LoginError {
  const hint =
    error === "access_denied"
      ? "The sign-in was declined or cancelled; run login() again to retry."
      : error === "invalid_scope"
        ? "Check `scopes`: the client may not be allowed one of them."
        : /redirect/i.test(description ?? "")
          ? "Check the redirect URI registered for this client (see `redirectUri`)."
          : /transform algorithm|code.?challenge|pkce/i.test(description ?? "")
            ? 'The server refused the PKCE challenge (S256, the only method that keeps the verifier secret). If it supports only plain, ask its administrators to enable S256, or accept the weaker method with `pkceMethod: "plain"`.'
            : "Check the client's registration and the options passed to login().";
  return new LoginError("AUTHORIZATION_DENIED", `The provider refused the sign-in (${oauthErrorText(error, description)}). ${hint}`, {
    cause,
    error,
    errorDescription: description,
  });
}

/**
 * The device authorization request was refused or failed (RFC 8628 §3.2). The client refused
 * (`invalid_client`, a `WWW-Authenticate` challenge) is worded as at the token endpoint, so the
 * one road's Basic→post retry recognises it; another OAuth error says what the grant needs.
 */
export function deviceAuthorizationError(site: RequestSite, cause: unknown): LoginError {
  if (cause instanceof oauth.ResponseBodyError && cause.error !== "invalid_client" && cause.error !== "unauthorized_client") {
    return new LoginError(
      "AUTHORIZATION_DENIED",
      `The device authorization endpoint refused the request (HTTP ${cause.status}, ${oauthErrorText(cause.error, cause.error_description)}). Check that the client is allowed the device grant, and \`scopes\`.`,
      { cause, error: cause.error, errorDescription: cause.error_description, status: cause.status },
    );
  }
  return tokenResponseError(site, cause, undefined, "device authorization");
}

/**
 * A device-code poll that did not return tokens (RFC 8628 §3.5): keep polling ("pending"), poll
 * more slowly ("slow_down"), or the error that ends the sign-in.
 */
export function devicePollOutcome(site: RequestSite, cause: unknown, grant: { userCode: string }): "pending" | "slow_down" | LoginError {
  if (cause instanceof oauth.ResponseBodyError) {
    if (cause.error === "authorization_pending") return "pending";
    if (cause.error === "slow_down") return "slow_down";
    if (cause.error === "access_denied") {
      return new LoginError("AUTHORIZATION_DENIED", "The sign-in was declined at the verification page (access_denied). Run the cell again to retry.", {
        cause,
        error: cause.error,
        errorDescription: cause.error_description,
        status: cause.status,
      });
    }
    if (cause.error === "expired_token") {
      return new LoginError(
        "TIMEOUT",
        `The code ${grant.userCode} expired before the sign-in was completed (expired_token). Run the cell again for a new code.`,
        {
          cause,
          error: cause.error,
          status: cause.status,
        },
      );
    }
  }
  return tokenResponseError(site, cause);
}

/**
 * The client was refused with its secret in the Basic header and again in the body: the id or
 * secret is wrong, or the server wants another method. Both answers are kept in `cause`.
 */
export function bothMethodsRefusedError(site: RequestSite, which: EndpointName, basic: LoginError, post: LoginError): LoginError {
  const answer = (error: LoginError): string => (error.error ? oauthErrorText(error.error, error.errorDescription) : `HTTP ${error.status ?? "?"}`);
  const pushed = which === "pushed authorization request";
  return new LoginError(
    pushed ? "AUTHORIZATION_REQUEST_REJECTED" : "TOKEN_REQUEST_FAILED",
    `The ${which} endpoint ${endpointUrl(site, which)} refused the client with its secret in the Basic header (${answer(basic)}) and in the request body (${answer(post)})${pushed ? ", so no browser was opened" : ""}. ` +
      "Check `clientId` and `clientSecret`; if the server expects another way of sending the secret, set `tokenEndpointAuthMethod`.",
    { cause: new AggregateError([basic, post], "client_secret_basic and client_secret_post were both refused"), ...oauthFields(post) },
  );
}
