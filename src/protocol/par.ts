import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import { clip } from "../util/text.js";
import type { ServerMetadata } from "./metadata.js";
import { isTransportFailure } from "./network-errors.js";
import { requestError } from "./oauth-errors.js";
import { clientRequest, type TokenContext } from "./client-request.js";

/**
 * Pushed authorization requests (RFC 9126): the authorization request goes to the server directly,
 * with the client's authentication (and the DPoP key's proof, which binds the code to it), and the
 * browser gets only `client_id` and the single-use `request_uri` it returns. A request the server
 * refuses (unknown client, unregistered redirect URI) fails here, before any browser opens.
 */

/**
 * Whether this sign-in pushes its request: when the server offers it, unless `par: false`.
 * `par: true` with a server that does not, or `par: false` with one that requires it, is
 * INVALID_CONFIG naming the option.
 */
export function usesPar(config: { par: boolean | undefined }, as: ServerMetadata): boolean {
  const offered = typeof as.pushed_authorization_request_endpoint === "string";
  if (config.par === true && !offered) {
    throw new LoginError(
      "INVALID_CONFIG",
      `\`par: true\` asks for pushed authorization requests (RFC 9126), but ${as.issuer} advertises no \`pushed_authorization_request_endpoint\`. Leave \`par\` unset to push only where the server offers it.`,
    );
  }
  if (config.par === false && offered && as.require_pushed_authorization_requests === true) {
    throw new LoginError(
      "INVALID_CONFIG",
      `${as.issuer} accepts only pushed authorization requests (RFC 9126), and \`par: false\` turns them off: leave \`par\` unset.`,
    );
  }
  return offered && config.par !== false;
}

/** The browser's address for a pushed request, and when the server stops accepting it. */
export interface PushedRequest {
  url: URL;
  /** Epoch ms: `expires_in` after the push (RFC 9126 §2.2), less a few seconds for the browser's way there. */
  expiresAt: number;
}

/**
 * Pushes the request that `url` carries and returns the address for the browser. A refusal is
 * AUTHORIZATION_REQUEST_REJECTED with the server's `error` and `error_description`, and
 * `registerHint` (what to register, as a sentence) when the redirect URI is the problem.
 */
export async function pushAuthorizationRequest(ctx: TokenContext, url: URL, registerHint: string): Promise<PushedRequest> {
  const pushedAt = Date.now();
  const params = new URLSearchParams(url.searchParams);
  params.delete("client_id"); // oauth4webapi sets it from the client
  const pushed = await clientRequest(ctx, "pushed authorization request", {
    send: (clientAuth, options) => oauth.pushedAuthorizationRequest(ctx.as, ctx.client, clientAuth, params, options),
    process: (response) => oauth.processPushedAuthorizationResponse(ctx.as, ctx.client, response),
    refused: (cause) => refusedError(ctx, cause, registerHint),
  });
  const browserUrl = new URL(ctx.as.authorization_endpoint!);
  browserUrl.searchParams.set("client_id", ctx.client.client_id);
  browserUrl.searchParams.set("request_uri", pushed.request_uri);
  return { url: browserUrl, expiresAt: pushedAt + Math.max(0, pushed.expires_in - 5) * 1000 };
}

function refusedError(ctx: TokenContext, cause: unknown, registerHint: string): LoginError {
  const endpoint = ctx.as.pushed_authorization_request_endpoint;
  // The answer could not be read (timeout, oversized, connection cut): a failed request.
  if (isTransportFailure(cause)) return requestError(ctx, cause, "pushed authorization request");
  let error: string | undefined;
  let description: string | undefined;
  let status: number | undefined;
  if (cause instanceof oauth.ResponseBodyError) {
    ({ error, error_description: description, status } = cause);
  } else if (cause instanceof oauth.WWWAuthenticateChallengeError) {
    error = cause.cause[0]?.parameters.error ?? "invalid_client";
    status = cause.status;
  } else {
    // No OAuth error: a status other than 201, or a body that is not a PAR response.
    const answered = (cause as { cause?: { status?: unknown } } | undefined)?.cause?.status;
    status = typeof answered === "number" ? answered : undefined;
    return new LoginError(
      "AUTHORIZATION_REQUEST_REJECTED",
      `The pushed authorization request endpoint ${endpoint} (RFC 9126) answered ${status === undefined ? "" : `HTTP ${status} `}without a usable answer (${clip((cause as Error)?.message ?? String(cause))}), so no browser was opened. The server may be failing: try again later, or pass \`par: false\` to send the request through the browser instead.`,
      { cause, status },
    );
  }
  const said = error ? `${clip(error, 100)}${description ? `: ${clip(description)}` : ""}` : "no OAuth error";
  const hint =
    error === "invalid_redirect_uri" || /redirect/i.test(description ?? "")
      ? registerHint
      : error === "invalid_client" || error === "unauthorized_client"
        ? "Check `clientId`, and `clientSecret` if the client was registered as confidential."
        : error === "invalid_scope"
          ? "Check `scopes`: the client may not be allowed one of them."
          : "Check the client's registration and the options passed to the call.";
  return new LoginError(
    "AUTHORIZATION_REQUEST_REJECTED",
    `The provider refused the sign-in request at its pushed authorization request endpoint ${endpoint} (RFC 9126; HTTP ${status ?? "?"}, ${said}), so no browser was opened. ${hint}`,
    { cause, error, errorDescription: description, status },
  );
}
