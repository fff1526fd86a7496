import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import { clip } from "../util/text.js";
import { clientRequest, commonParameters, type TokenContext } from "./client-request.js";
import { deviceAuthorizationError, devicePollOutcome } from "./oauth-errors.js";
import { withClientAuthMethod, toTokenSet, type TokenSet } from "./token.js";
import { isSafeEndpoint } from "../util/urls.js";

/**
 * The device authorization request (RFC 8628 §3.1), through the one road of client-authenticated
 * requests (a Basic refusal is retried with post, as at the token endpoint), its verification
 * links held to the https rule.
 */
export async function requestDeviceCode(
  ctx: TokenContext,
  scopes: readonly string[],
  extraParams: Record<string, string>,
): Promise<oauth.DeviceAuthorizationResponse> {
  const params = new URLSearchParams({ ...extraParams, ...commonParameters(ctx) });
  if (scopes.length > 0) params.set("scope", scopes.join(" "));
  const grant = await clientRequest(ctx, "device authorization", {
    send: (clientAuth, options) => oauth.deviceAuthorizationRequest(ctx.as, ctx.client, clientAuth, params, options),
    process: (response) => oauth.processDeviceAuthorizationResponse(ctx.as, ctx.client, response),
    refused: (cause) => deviceAuthorizationError(ctx, cause),
  });
  ctx.secrets?.add(grant.device_code);
  // The verification links become a link in the cell and open in the browser: https only (plain
  // http on loopback), never javascript: or data:.
  for (const [name, value] of [
    ["verification_uri", grant.verification_uri],
    ["verification_uri_complete", grant.verification_uri_complete],
  ] as const) {
    if (value !== undefined && !isSafeEndpoint(value)) {
      throw new LoginError(
        "TOKEN_REQUEST_FAILED",
        `The device authorization response's \`${name}\` is not an https URL (${JSON.stringify(clip(String(value), 100))}); it is not shown. Report this to the provider's administrator.`,
      );
    }
  }
  return grant;
}

/**
 * One poll of the token endpoint (RFC 8628 §3.4): the tokens, or "pending" / "slow_down" (§3.5).
 * Any other answer is the error that ends the sign-in.
 */
export async function pollDeviceCode(ctx: TokenContext, grant: oauth.DeviceAuthorizationResponse): Promise<TokenSet | "pending" | "slow_down"> {
  const outcome = await clientRequest(ctx, "token", {
    send: (clientAuth, options) => oauth.deviceCodeGrantRequest(ctx.as, ctx.client, clientAuth, grant.device_code, options),
    process: async (response) => {
      try {
        return toTokenSet(ctx, await oauth.processDeviceCodeResponse(ctx.as, ctx.client, response));
      } catch (cause) {
        const next = devicePollOutcome(ctx, cause, { userCode: grant.user_code });
        if (next === "pending" || next === "slow_down") return next;
        throw next;
      }
    },
    refused: (cause) => (cause instanceof LoginError ? cause : new LoginError("TOKEN_REQUEST_FAILED", String(cause), { cause })),
  });
  return typeof outcome === "string" ? outcome : withClientAuthMethod(ctx, outcome);
}
