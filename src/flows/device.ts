import * as oauth from "oauth4webapi";
import { asLoginError, LoginError } from "../errors.js";
import type { ServerMetadata } from "../protocol/metadata.js";
import type { TokenContext } from "../protocol/client-request.js";
import { pollDeviceCode, requestDeviceCode } from "../protocol/device.js";
import type { TokenSet } from "../protocol/token.js";
import { openBrowser, reportBrowser } from "./browser.js";
import { flowTokenContext, type FlowContext, signInTitle } from "./context.js";
import { Wait } from "./wait.js";

/** RFC 8628 §3.2: without `interval`, clients poll every 5 seconds. */
const DEFAULT_INTERVAL_S = 5;
/** RFC 8628 §3.5: on `slow_down`, the interval grows by 5 seconds for all later requests. */
const SLOW_DOWN_S = 5;

/**
 * The device authorization grant (RFC 8628): for kernels the browser cannot reach. The cell shows
 * a link and a short code; the user signs in on any device while this polls the token endpoint at
 * the server's `interval`. Cancellable like the loopback flow (timeout, signal, interrupt).
 */
export async function runDeviceLogin(flow: FlowContext, as: ServerMetadata): Promise<TokenSet> {
  const { config, reporter, secrets } = flow;
  const wait = new Wait({
    signal: config.signal,
    reporter,
    interrupted: () => "The cell was interrupted: the sign-in stopped. Run the cell again to sign in.",
  });
  try {
    if (!as.device_authorization_endpoint) {
      throw new LoginError(
        "INVALID_CONFIG",
        `\`flow: "device"\` needs a server with a device authorization endpoint (RFC 8628), and ${as.issuer} advertises none. Use \`flow: "loopback"\`, or beginLogin() when your browser cannot reach this machine.`,
      );
    }
    const ctx = flowTokenContext(flow, as, wait.signal);
    const grant = await requestDeviceCode(ctx, config.scopes, config.extraParams);
    const lifetimeMs = Math.min(grant.expires_in * 1000, config.timeoutMs);
    const interval = (grant.interval ?? DEFAULT_INTERVAL_S) * 1000;
    reporter.waitingForCode({
      issuer: signInTitle(config, as),
      verificationUri: grant.verification_uri,
      verificationUriComplete: grant.verification_uri_complete,
      userCode: grant.user_code,
      deadline: Date.now() + lifetimeMs,
    });
    void openBrowser(grant.verification_uri_complete ?? grant.verification_uri, config.openBrowser, reportBrowser(reporter), "device");
    // The server says when the code expired (expired_token); a server that never does is cut off
    // a little after the code's lifetime (clocks and rounding differ), or at `timeout`.
    const hardStop = Date.now() + Math.min(config.timeoutMs, grant.expires_in * 1000 + 2 * interval + 2000);
    return await poll(ctx, wait, grant, interval, hardStop, lifetimeMs, (message) => reporter.event(message));
  } catch (caught) {
    throw secrets.scrubError(asLoginError(caught));
  } finally {
    wait.dispose();
  }
}

/** Polls the token endpoint (RFC 8628 §3.4) until the user signed in, refused, or time ran out. */
async function poll(
  ctx: TokenContext,
  wait: Wait,
  grant: oauth.DeviceAuthorizationResponse,
  interval: number,
  hardStop: number,
  lifetimeMs: number,
  onEvent: (message: string) => void,
): Promise<TokenSet> {
  for (;;) {
    const pause = Math.min(interval, hardStop - Date.now());
    if (pause <= 0 || !(await wait.sleep(pause))) {
      if (wait.signal.aborted) throw wait.abortedError();
      throw new LoginError(
        "TIMEOUT",
        `Nobody entered the code ${grant.user_code} at ${grant.verification_uri} within ${Math.round(lifetimeMs / 1000)} s. Run the cell again for a new code.`,
      );
    }
    let outcome: TokenSet | "pending" | "slow_down";
    try {
      outcome = await pollDeviceCode(ctx, grant);
    } catch (error) {
      if (wait.signal.aborted) throw wait.abortedError(error);
      throw error;
    }
    if (outcome === "pending") continue;
    if (outcome !== "slow_down") return outcome;
    interval += SLOW_DOWN_S * 1000;
    onEvent(`the server asked to poll more slowly: every ${interval / 1000} s`);
  }
}
