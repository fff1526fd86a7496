import * as oauth from "oauth4webapi";
import { openBrowser } from "../browser.js";
import type { ResolvedConfig } from "../../options/config.js";
import type { ServerMetadata } from "../../protocol/discovery.js";
import { LoginError } from "../../errors.js";
import { startListener, type CallbackListener } from "./listener.js";
import { choosePkceMethod, createPkce } from "../../protocol/pkce.js";
import type { LoginReporter } from "../../notebook/reporter.js";
import { SecretSet } from "../../secrets.js";
import { clip, exchangeCode, tokenContext, type TokenSet } from "../../protocol/token.js";

/**
 * The interactive flow: authorization code + PKCE (RFC 6749 §4.1, RFC 7636) through a transient
 * loopback listener (RFC 8252), `state` and `iss` (RFC 9207) checked, the code exchanged. Returns
 * the full token set and the server metadata it used (both go to the cache). `metadata`, when
 * known from the cache, saves the discovery requests.
 */
export async function runLogin(
  config: ResolvedConfig,
  reporter: LoginReporter,
  secrets: SecretSet,
  as: ServerMetadata,
): Promise<{ tokens: TokenSet; as: ServerMetadata }> {
  const controller = new AbortController();
  const userSignal = config.signal;
  const onUserAbort = (): void => controller.abort(userSignal?.reason);
  userSignal?.addEventListener("abort", onUserAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  let listener: CallbackListener | undefined;
  let stopInterruptWatch: (() => void) | undefined;
  const issuer = as.issuer;
  try {
    if (userSignal?.aborted) throw abortedError(userSignal.reason);
    const ctx = tokenContext(config, as, controller.signal);
    const { pkce, state, nonce } = await authorizationSecrets(as, config, secrets, (message) => reporter.warn(message));

    listener = await startListener({ redirect: config.redirect, state, onEvent: (message) => reporter.event(message) });
    stopInterruptWatch = reporter.watchInterrupt(() => {
      const error = new LoginError(
        "ABORTED",
        `The cell was interrupted: the login stopped and its listener is closed. Run the cell again to sign in. ${registerHint(config, listener!.redirectUri)}`,
      );
      // Overwrite the entry now, synchronously: tslab ends the cell within a few microtasks, and
      // an update sent after that would not reach a notebook saved by nbconvert.
      reporter.failed(error);
      controller.abort(error);
    });
    const url = authorizationUrl(as, config, listener.redirectUri, pkce, state, nonce);
    const deadline = Date.now() + config.timeoutMs;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timeoutError(config, listener!.redirectUri)), config.timeoutMs);
      timer.unref();
    });
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = (): void => reject(abortedError(controller.signal.reason));
      if (controller.signal.aborted) onAbort();
      else controller.signal.addEventListener("abort", onAbort, { once: true });
    });
    // These two only ever reject; keep an unobserved rejection from surfacing after we are done.
    timedOut.catch(() => {});
    aborted.catch(() => {});

    reporter.waiting({ issuer, url: url.href, deadline, openBrowser: config.openBrowser !== false });
    void openBrowser(url.href, config.openBrowser, (message) => reporter.event(message));

    const params = await Promise.race([listener.callback, timedOut, aborted]);
    clearTimeout(timer);
    for (const value of params.getAll("code")) secrets.add(value);
    const validated = validateCallback(as, ctx.client, params, state);
    const tokens = await Promise.race([exchangeCode(ctx, validated, listener.redirectUri, pkce.verifier, nonce), aborted]);
    for (const value of [tokens.accessToken, tokens.refreshToken, tokens.idToken]) secrets.add(value);

    await listener.finish({ ok: true, issuer });
    return { tokens, as };
  } catch (caught) {
    let error = caught instanceof LoginError ? caught : new LoginError("TOKEN_REQUEST_FAILED", String((caught as Error)?.message), { cause: caught });
    // A request cut short by the login's own abort surfaces as a fetch error: say what happened.
    if (controller.signal.aborted && error.code !== "ABORTED") error = abortedError(controller.signal.reason, error);
    secrets.scrubError(error);
    await listener?.finish({ ok: false, message: error.message }).catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
    stopInterruptWatch?.();
    userSignal?.removeEventListener("abort", onUserAbort);
    await listener?.close();
  }
}

/**
 * PKCE (S256 unless the server lists only plain, or `pkceMethod` asks for plain), `state`, and
 * `nonce` with `openid`. Using plain is never silent: `warn` says so in the cell.
 */
export async function authorizationSecrets(
  as: ServerMetadata,
  config: ResolvedConfig,
  secrets: SecretSet,
  warn: (message: string) => void,
): Promise<{ pkce: { verifier: string; challenge: string; method: string }; state: string; nonce: string | undefined }> {
  const method = choosePkceMethod(as.code_challenge_methods_supported, config.pkceMethod);
  if (typeof method !== "string") throw method.error;
  if (method === "plain") {
    warn(
      config.pkceMethod === "plain"
        ? "PKCE method plain, as asked with `pkceMethod`: the code challenge equals the verifier, so PKCE no longer protects the code against anyone who sees the sign-in link."
        : `${as.issuer} supports only the PKCE method plain (its metadata lists ${JSON.stringify(as.code_challenge_methods_supported)}): the code challenge equals the verifier, so PKCE no longer protects the code against anyone who sees the sign-in link. Ask its administrators to enable S256.`,
    );
  }
  const pkce = await createPkce(method);
  const state = oauth.generateRandomState();
  const nonce = config.scopes.includes("openid") ? oauth.generateRandomNonce() : undefined;
  for (const value of [pkce.verifier, state, nonce]) secrets.add(value);
  return { pkce, state, nonce };
}

export function authorizationUrl(
  as: ServerMetadata,
  config: ResolvedConfig,
  redirectUri: string,
  pkce: { challenge: string; method: string },
  state: string,
  nonce: string | undefined,
): URL {
  const url = new URL(as.authorization_endpoint!);
  const params = url.searchParams;
  params.set("response_type", "code");
  params.set("client_id", config.clientId);
  params.set("redirect_uri", redirectUri);
  if (config.scopes.length > 0) params.set("scope", config.scopes.join(" "));
  params.set("state", state);
  params.set("code_challenge", pkce.challenge);
  params.set("code_challenge_method", pkce.method);
  if (nonce) params.set("nonce", nonce);
  // forceLogin asks for the login page even when the provider has a session (OIDC Core §3.1.2.1).
  if (config.forceLogin) params.set("prompt", "login");
  for (const [key, value] of Object.entries(config.extraParams)) params.set(key, value);
  return url;
}

/** RFC 6749 §4.1.2 and RFC 9207 checks on the genuine callback (its state already matched). */
export function validateCallback(as: ServerMetadata, client: oauth.Client, params: URLSearchParams, state: string): URLSearchParams {
  let validated: URLSearchParams;
  try {
    validated = oauth.validateAuthResponse(as, client, params, state);
  } catch (cause) {
    if (cause instanceof oauth.AuthorizationResponseError) {
      throw deniedError(cause.error, cause.error_description, cause);
    }
    const message = (cause as Error)?.message ?? "";
    if (message.includes('"iss"')) {
      const got = params.get("iss");
      throw new LoginError(
        "ISSUER_MISMATCH",
        got === null
          ? `The redirect came back without the \`iss\` parameter that ${as.issuer} promises (RFC 9207); it may not come from your provider. Run login() again.`
          : `The redirect came back from issuer ${JSON.stringify(clip(got, 200))}, not ${JSON.stringify(as.issuer)}: it may come from another server (mix-up, RFC 9207). Run login() again; if it persists, check \`issuer\`.`,
        { cause },
      );
    }
    throw new LoginError("INVALID_AUTHORIZATION_RESPONSE", `The redirect back from the provider was malformed (${message}). Run login() again.`, { cause });
  }
  const codes = params.getAll("code");
  if (codes.length !== 1 || codes[0] === "") {
    throw new LoginError(
      "INVALID_AUTHORIZATION_RESPONSE",
      codes.length === 0
        ? "The redirect back from the provider carried no authorization code. Run login() again."
        : "The redirect back from the provider carried more than one authorization code. Run login() again.",
    );
  }
  return validated;
}

function deniedError(error: string, description: string | undefined, cause: unknown): LoginError {
  const text = description ? `${clip(error, 100)}: ${clip(description)}` : clip(error, 100);
  const hint =
    error === "access_denied"
      ? "The sign-in was declined or cancelled; run login() again to retry."
      : error === "invalid_scope"
        ? "Check `scopes`: the client may not be allowed one of them."
        : /redirect/i.test(description ?? "")
          ? "Check the redirect URI registered for this client (see `redirectUri`)."
          : /transform algorithm|code.?challenge|pkce/i.test(description ?? "")
            ? "The server refused the PKCE challenge (S256, the only method that keeps the verifier secret). If it supports only plain, ask its administrators to enable S256, or accept the weaker method with `pkceMethod: \"plain\"`."
            : "Check the client's registration and the options passed to login().";
  return new LoginError("AUTHORIZATION_DENIED", `The provider refused the sign-in (${text}). ${hint}`, {
    cause,
    error,
    errorDescription: description,
  });
}

function timeoutError(config: ResolvedConfig, redirectUri: string): LoginError {
  return new LoginError(
    "TIMEOUT",
    `No sign-in came back within ${config.timeoutMs / 1000} s. Run login() again and finish signing in in the browser. ${registerHint(config, redirectUri)} ` +
      "If your browser runs on another machine than the kernel, the redirect to this machine's loopback address cannot arrive.",
  );
}

/** What to register when the provider refused the redirect URI on its own page (it cannot tell us). */
function registerHint(config: ResolvedConfig, redirectUri: string): string {
  const anyPort = config.redirect.port === 0;
  const registered = anyPort ? redirectUri.replace(/:\d+\//, "/") : redirectUri;
  return `If the provider showed an error about the redirect URI, register ${registered}${anyPort ? " (any port)" : ""} for client ${JSON.stringify(config.clientId)}.`;
}

export function abortedError(reason: unknown, cause?: unknown): LoginError {
  if (reason instanceof LoginError && reason.code === "ABORTED") return reason;
  return new LoginError("ABORTED", "The login was aborted before it completed.", { cause: cause ?? reason });
}

export function displayName(tokens: Pick<TokenSet, "claims">): string | undefined {
  const claims = tokens.claims;
  if (!claims) return undefined;
  for (const key of ["name", "preferred_username", "email", "sub"]) {
    const value = claims[key];
    if (typeof value === "string" && value) return value;
  }
  return undefined;
}
