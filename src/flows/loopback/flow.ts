import { asLoginError, LoginError } from "../../errors.js";
import type { LoginReporter } from "../../notebook/reporter.js";
import type { ResolvedConfig } from "../../options/types.js";
import { authorizationSecrets, authorizationUrl } from "../../protocol/authorization.js";
import type { ServerMetadata } from "../../protocol/metadata.js";
import { pushAuthorizationRequest, usesPar } from "../../protocol/par.js";
import type { TokenSet } from "../../protocol/token.js";
import { openBrowser, reportBrowser } from "../browser.js";
import { flowTokenContext, redeemCallback, registerHint, type FlowContext, signInTitle } from "../context.js";
import { Wait } from "../wait.js";
import { doubtNotice, preflight, PREFLIGHT_DELAY_MS, rejectedError } from "./preflight.js";
import { startListener, type CallbackListener } from "./listener.js";

/**
 * The loopback flow: authorization code + PKCE (RFC 6749 §4.1, RFC 7636) through a transient
 * loopback listener (RFC 8252), `state` and `iss` (RFC 9207) checked, the code exchanged. Returns
 * the token set (it goes to the cache with `as`).
 */
export async function runLoopbackLogin(flow: FlowContext, as: ServerMetadata): Promise<TokenSet> {
  const { config, reporter, secrets } = flow;
  let listener: CallbackListener | undefined;
  const stopPreflight = new AbortController();
  const wait = new Wait({
    signal: config.signal,
    reporter,
    interrupted: () =>
      `The cell was interrupted: the login stopped and its listener is closed. Run the cell again to sign in.${listener ? ` ${registerHint(config, listener.redirectUri)}` : ""}`,
  });
  try {
    if (wait.signal.aborted) throw wait.abortedError();
    const ctx = flowTokenContext(flow, as, wait.signal);
    const pushed = usesPar(config, as);
    const authorization = await authorizationSecrets(as, config, secrets, (message) => reporter.warn(message));
    listener = await startListener({ redirect: config.redirect, state: authorization.state, onEvent: (message) => reporter.event(message) });
    const redirectUri = listener.redirectUri;
    const request = authorizationUrl(as, config, redirectUri, authorization.pkce, authorization.state, authorization.nonce);
    const hint = registerHint(config, redirectUri);
    // Pushed (RFC 9126): the browser gets only client_id and request_uri, and a refusal ends here.
    const registerNow = registerHint(config, redirectUri, "Register");
    let push = pushed ? await wait.race(pushAuthorizationRequest(ctx, request, registerNow)) : undefined;
    const url = push?.url ?? request;
    // A pushed request lives a minute or so; a link opened later pushes the request again.
    const launch = async (): Promise<string> => {
      if (push && Date.now() >= push.expiresAt)
        push = await pushAuthorizationRequest(ctx, request, registerNow).catch((error: unknown) => Promise.reject(secrets.scrubError(error)));
      return (push?.url ?? request).href;
    };
    reporter.waiting({
      issuer: signInTitle(config, as),
      // The link shown leads through the listener: nothing of this sign-in is in it.
      url: listener.launcher(launch),
      deadline: Date.now() + config.timeoutMs,
      openBrowser: config.openBrowser !== false,
      redirectHint: hint,
    });
    void openBrowser(url.href, config.openBrowser, reportBrowser(reporter));

    // A pushed request was already checked by the server (and its request_uri is not ours to spend).
    // Stopped when the sign-in ends either way (a cancel aborts the wait's signal, which stops it too).
    wait.signal.addEventListener("abort", () => stopPreflight.abort(), { once: true });
    const refused = config.preflight && !pushed ? refusedRequest(url, config, stopPreflight.signal, hint, reporter) : NEVER;
    const params = await wait.race(Promise.race([listener.callback, refused]), { ms: config.timeoutMs, error: () => timeoutError(config, redirectUri) });
    const tokens = await wait.race(redeemCallback(ctx, params, redirectUri, authorization));
    await listener.finish({ ok: true, issuer: as.issuer });
    return tokens;
  } catch (caught) {
    // A request cut short by the login's own abort surfaces as a fetch error: say what happened.
    const error = secrets.scrubError(wait.explain(asLoginError(caught)));
    await listener?.finish({ ok: false, message: error.message }).catch(() => {});
    throw error;
  } finally {
    stopPreflight.abort();
    wait.dispose();
    await listener?.close();
  }
}

const NEVER = new Promise<never>(() => {});

/**
 * Rejects with AUTHORIZATION_REQUEST_REJECTED when the early check finds the server refused the
 * request; says a doubt in the cell; else never settles. It runs only when no callback came within
 * PREFLIGHT_DELAY_MS, so a sign-in that completes quickly costs the provider no second request.
 */
async function refusedRequest(url: URL, config: ResolvedConfig, signal: AbortSignal, hint: string, reporter: LoginReporter): Promise<never> {
  if (!(await delay(PREFLIGHT_DELAY_MS, signal))) return NEVER;
  const finding = await preflight(url, config, signal);
  if (!finding || signal.aborted) return NEVER;
  if (finding.verdict === "refused") throw rejectedError(finding, hint);
  reporter.notice(doubtNotice(finding, hint));
  return NEVER;
}

/** True after `ms`, false as soon as `signal` aborts; the timer never keeps the process alive. */
function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    timer.unref();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function timeoutError(config: ResolvedConfig, redirectUri: string): LoginError {
  return new LoginError(
    "TIMEOUT",
    `No sign-in came back within ${config.timeoutMs / 1000} s. Run login() again and finish signing in in the browser. ${registerHint(config, redirectUri)} ` +
      "If your browser runs on another machine than the kernel, the redirect to this machine's loopback address cannot arrive.",
  );
}
