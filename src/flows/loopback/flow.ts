import { asLoginError, LoginError } from "../../errors.js";
import type { LoginReporter } from "../../notebook/reporter.js";
import type { ResolvedConfig } from "../../options/types.js";
import { authorizationSecrets, authorizationUrl, validateCallback } from "../../protocol/authorization.js";
import type { ServerMetadata } from "../../protocol/metadata.js";
import { exchangeCode, tokenContext, type TokenSet } from "../../protocol/token.js";
import type { SecretSet } from "../../secrets.js";
import { openBrowser } from "../browser.js";
import { Wait } from "../wait.js";
import { startListener, type CallbackListener } from "./listener.js";

/** What an interactive flow needs: the options, where to report, and the secrets to keep out of errors. */
export interface FlowContext {
  config: ResolvedConfig;
  reporter: LoginReporter;
  secrets: SecretSet;
}

/**
 * The loopback flow: authorization code + PKCE (RFC 6749 §4.1, RFC 7636) through a transient
 * loopback listener (RFC 8252), `state` and `iss` (RFC 9207) checked, the code exchanged. Returns
 * the token set (it goes to the cache with `as`).
 */
export async function runLoopbackLogin({ config, reporter, secrets }: FlowContext, as: ServerMetadata): Promise<TokenSet> {
  let listener: CallbackListener | undefined;
  const wait = new Wait({
    signal: config.signal,
    reporter,
    interrupted: () => `The cell was interrupted: the login stopped and its listener is closed. Run the cell again to sign in.${listener ? ` ${registerHint(config, listener.redirectUri)}` : ""}`,
  });
  try {
    if (wait.signal.aborted) throw wait.abortedError();
    const ctx = tokenContext(config, as, wait.signal);
    const { pkce, state, nonce } = await authorizationSecrets(as, config, secrets, (message) => reporter.warn(message));
    listener = await startListener({ redirect: config.redirect, state, onEvent: (message) => reporter.event(message) });
    const redirectUri = listener.redirectUri;
    const url = authorizationUrl(as, config, redirectUri, pkce, state, nonce);
    reporter.waiting({ issuer: as.issuer, url: url.href, deadline: Date.now() + config.timeoutMs, openBrowser: config.openBrowser !== false });
    void openBrowser(url.href, config.openBrowser, (message) => reporter.event(message));

    const params = await wait.race(listener.callback, { ms: config.timeoutMs, error: () => timeoutError(config, redirectUri) });
    for (const value of params.getAll("code")) secrets.add(value);
    const validated = validateCallback(as, ctx.client, params, state);
    const tokens = await wait.race(exchangeCode(ctx, validated, redirectUri, pkce.verifier, nonce));
    for (const value of [tokens.accessToken, tokens.refreshToken, tokens.idToken]) secrets.add(value);
    await listener.finish({ ok: true, issuer: as.issuer });
    return tokens;
  } catch (caught) {
    // A request cut short by the login's own abort surfaces as a fetch error: say what happened.
    const error = secrets.scrubError(wait.explain(asLoginError(caught)));
    await listener?.finish({ ok: false, message: error.message }).catch(() => {});
    throw error;
  } finally {
    wait.dispose();
    await listener?.close();
  }
}

function timeoutError(config: ResolvedConfig, redirectUri: string): LoginError {
  return new LoginError(
    "TIMEOUT",
    `No sign-in came back within ${config.timeoutMs / 1000} s. Run login() again and finish signing in in the browser. ${registerHint(config, redirectUri)} ` +
      "If your browser runs on another machine than the kernel, the redirect to this machine's loopback address cannot arrive.",
  );
}

/** What to register when the provider refused the redirect URI on its own page (it cannot tell us). */
export function registerHint(config: Pick<ResolvedConfig, "redirect" | "clientId">, redirectUri: string): string {
  const anyPort = config.redirect.port === 0;
  const registered = anyPort ? redirectUri.replace(/:\d+\//, "/") : redirectUri;
  return `If the provider showed an error about the redirect URI, register ${registered}${anyPort ? " (any port)" : ""} for client ${JSON.stringify(config.clientId)}.`;
}
