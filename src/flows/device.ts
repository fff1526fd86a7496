import * as oauth from "oauth4webapi";
import { openBrowser } from "./browser.js";
import type { ResolvedConfig } from "../options/config.js";
import { isSafeEndpoint, type ServerMetadata } from "../protocol/discovery.js";
import { LoginError } from "../errors.js";
import { abortedError } from "./loopback/flow.js";
import type { LoginReporter } from "../notebook/reporter.js";
import type { SecretSet } from "../secrets.js";
import { bearerTokenSet, clip, requestError, responseError, tokenContext, type TokenContext, type TokenSet } from "../protocol/token.js";

/** RFC 8628 §3.2: without `interval`, clients poll every 5 seconds. */
const DEFAULT_INTERVAL_S = 5;
/** RFC 8628 §3.5: on `slow_down`, the interval grows by 5 seconds for all later requests. */
const SLOW_DOWN_S = 5;

/**
 * The device authorization grant (RFC 8628): for kernels the browser cannot reach. The cell shows
 * a link and a short code; the user signs in on any device while this polls the token endpoint at
 * the server's `interval`. Cancellable like the loopback flow (timeout, signal, interrupt).
 */
export async function runDeviceLogin(
  config: ResolvedConfig,
  as: ServerMetadata,
  reporter: LoginReporter,
  secrets: SecretSet,
): Promise<{ tokens: TokenSet; as: ServerMetadata }> {
  const controller = new AbortController();
  const onUserAbort = (): void => controller.abort(config.signal?.reason);
  config.signal?.addEventListener("abort", onUserAbort, { once: true });
  const stopInterruptWatch = reporter.watchInterrupt(() => {
    const error = new LoginError("ABORTED", "The cell was interrupted: the sign-in stopped. Run the cell again to sign in.");
    reporter.failed(error);
    controller.abort(error);
  });
  try {
    if (!as.device_authorization_endpoint) {
      throw new LoginError(
        "INVALID_CONFIG",
        `\`flow: "device"\` needs a server with a device authorization endpoint (RFC 8628), and ${as.issuer} advertises none. Use \`flow: "loopback"\`, or beginLogin() when your browser cannot reach this machine.`,
      );
    }
    const ctx = tokenContext(config, as, controller.signal);
    const params = new URLSearchParams(config.extraParams);
    if (config.scopes.length > 0) params.set("scope", config.scopes.join(" "));

    let grant: oauth.DeviceAuthorizationResponse;
    try {
      const response = await oauth.deviceAuthorizationRequest(as, ctx.client, ctx.clientAuth, params, ctx.transport.options);
      grant = await oauth.processDeviceAuthorizationResponse(as, ctx.client, response);
    } catch (cause) {
      throw deviceAuthorizationError(ctx, cause);
    }
    secrets.add(grant.device_code);
    // The verification links become a link in the cell and open in the browser: https only (plain
    // http on loopback), never javascript: or data:.
    for (const [name, value] of [["verification_uri", grant.verification_uri], ["verification_uri_complete", grant.verification_uri_complete]] as const) {
      if (value !== undefined && !isSafeEndpoint(value)) {
        throw new LoginError(
          "TOKEN_REQUEST_FAILED",
          `The device authorization response's \`${name}\` is not an https URL (${JSON.stringify(clip(String(value), 100))}); it is not shown. Report this to the provider's administrator.`,
        );
      }
    }
    const lifetimeMs = Math.min(grant.expires_in * 1000, config.timeoutMs);
    const deadline = Date.now() + lifetimeMs;
    // The server says when the code expired (expired_token); a server that never does is cut off
    // a little after the code's lifetime (clocks and rounding differ), or at `timeout`.
    const hardStop = Date.now() + Math.min(config.timeoutMs, grant.expires_in * 1000 + 2 * (grant.interval ?? DEFAULT_INTERVAL_S) * 1000 + 2000);
    const link = grant.verification_uri_complete ?? grant.verification_uri;
    reporter.waitingForCode({
      issuer: as.issuer,
      verificationUri: grant.verification_uri,
      verificationUriComplete: grant.verification_uri_complete,
      userCode: grant.user_code,
      deadline,
    });
    void openBrowser(link, config.openBrowser, (message) => reporter.event(message));

    let interval = (grant.interval ?? DEFAULT_INTERVAL_S) * 1000;
    for (;;) {
      const wait = Math.min(interval, hardStop - Date.now());
      if (wait <= 0 || !(await sleep(wait, controller.signal))) {
        if (controller.signal.aborted) throw abortedError(controller.signal.reason);
        throw new LoginError(
          "TIMEOUT",
          `Nobody entered the code ${grant.user_code} at ${grant.verification_uri} within ${Math.round(lifetimeMs / 1000)} s. Run the cell again for a new code.`,
        );
      }
      let response: Response;
      try {
        response = await oauth.deviceCodeGrantRequest(as, ctx.client, ctx.clientAuth, grant.device_code, ctx.transport.options);
      } catch (cause) {
        if (controller.signal.aborted) throw abortedError(controller.signal.reason, cause);
        throw requestError(ctx, cause);
      }
      try {
        const tokens = bearerTokenSet(await oauth.processDeviceCodeResponse(as, ctx.client, response));
        for (const value of [tokens.accessToken, tokens.refreshToken, tokens.idToken]) secrets.add(value);
        return { tokens, as };
      } catch (cause) {
        if (cause instanceof oauth.ResponseBodyError) {
          if (cause.error === "authorization_pending") continue;
          if (cause.error === "slow_down") {
            interval += SLOW_DOWN_S * 1000;
            reporter.event(`the server asked to poll more slowly: every ${interval / 1000} s`);
            continue;
          }
          if (cause.error === "access_denied") {
            throw new LoginError("AUTHORIZATION_DENIED", "The sign-in was declined at the verification page (access_denied). Run the cell again to retry.", {
              cause,
              error: cause.error,
              errorDescription: cause.error_description,
              status: cause.status,
            });
          }
          if (cause.error === "expired_token") {
            throw new LoginError("TIMEOUT", `The code ${grant.user_code} expired before the sign-in was completed (expired_token). Run the cell again for a new code.`, {
              cause,
              error: cause.error,
              status: cause.status,
            });
          }
        }
        throw responseError(ctx, cause);
      }
    }
  } catch (caught) {
    const error = caught instanceof LoginError ? caught : new LoginError("TOKEN_REQUEST_FAILED", String((caught as Error)?.message), { cause: caught });
    secrets.scrubError(error);
    throw error;
  } finally {
    stopInterruptWatch();
    config.signal?.removeEventListener("abort", onUserAbort);
  }
}

function deviceAuthorizationError(ctx: TokenContext, cause: unknown): LoginError {
  if (cause instanceof oauth.ResponseBodyError) {
    return new LoginError(
      "AUTHORIZATION_DENIED",
      `The device authorization endpoint refused the request (HTTP ${cause.status}, ${cause.error}${cause.error_description ? `: ${clip(cause.error_description)}` : ""}). Check that the client is allowed the device grant, and \`scopes\`.`,
      { cause, error: cause.error, errorDescription: cause.error_description, status: cause.status },
    );
  }
  return requestError(ctx, cause, "device authorization");
}

/**
 * Resolves true after `ms`, false at once if the signal aborts. The timer keeps a plain Node
 * process alive while it polls (nothing else does); timeout, abort and interrupt all end it.
 */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      resolve(false);
    }
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
