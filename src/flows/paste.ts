import { randomInt } from "node:crypto";
import { LoginError } from "../errors.js";
import { authorizationSecrets, authorizationUrl, hasOurState, type AuthorizationSecrets } from "../protocol/authorization.js";
import type { ServerMetadata } from "../protocol/metadata.js";
import { pushAuthorizationRequest, usesPar } from "../protocol/par.js";
import type { TokenSet } from "../protocol/token.js";
import { clip } from "../util/text.js";
import { openBrowser, reportBrowser } from "./browser.js";
import { flowTokenContext, redeemCallback, registerHint, type FlowContext, signInTitle } from "./context.js";

/**
 * The two-cell flow's check of a pasted address: it must be this sign-in's redirect URI (origin
 * and path) carrying exactly this sign-in's `state` (compared in constant time, as the listener
 * does). Returns the callback parameters; a wrong address is refused without spending the
 * sign-in, with what to paste instead.
 */
export function pastedCallbackParams(pasted: string, redirectUri: string, state: string): URLSearchParams {
  const expected = new URL(redirectUri);
  let url: URL;
  try {
    url = new URL(String(pasted).trim());
  } catch (cause) {
    throw new LoginError(
      "INVALID_AUTHORIZATION_RESPONSE",
      `That is not an address: paste the whole URL from the browser's address bar, starting with ${expected.origin}${expected.pathname}.`,
      { cause },
    );
  }
  if (url.origin !== expected.origin || url.pathname !== expected.pathname) {
    throw new LoginError(
      "INVALID_AUTHORIZATION_RESPONSE",
      `That address (${clip(url.origin + url.pathname, 200)}) is not this sign-in's redirect: paste the address the browser ended on after signing in, starting with ${expected.origin}${expected.pathname}.`,
    );
  }
  if (!hasOurState(url.searchParams, state)) {
    throw new LoginError(
      "INVALID_AUTHORIZATION_RESPONSE",
      "That address belongs to another sign-in (its `state` does not match this one): paste the address from the tab this sign-in opened, or run beginLogin() again.",
    );
  }
  return url.searchParams;
}

/** A paste flow's sign-in, between the link shown and the address pasted. */
export interface PasteLink {
  redirectUri: string;
  url: string;
  authorization: AuthorizationSecrets;
  deadline: number;
}

/**
 * The end of both paste flows: the pasted address checked ({@link pastedCallbackParams}: a wrong
 * one spends nothing), then the code redeemed. `spend` runs when the code is about to be sent.
 */
export function completePastedSignIn(flow: FlowContext, as: ServerMetadata, link: PasteLink, pasted: string, spend?: () => void): Promise<TokenSet> {
  const params = pastedCallbackParams(pasted, link.redirectUri, link.authorization.state);
  return redeemCallback(flowTokenContext(flow, as), params, link.redirectUri, link.authorization, spend);
}

/**
 * The start of both paste flows (`beginLogin()` and `flow: "manual"`): this sign-in's secrets, a
 * loopback redirect URI on any port (nothing listens: any port the provider accepts will do, RFC
 * 8252 §7.3), the link shown (and on screen before anything blocks), the browser opened.
 */
export async function showPasteLink(flow: FlowContext, as: ServerMetadata, prompted: boolean): Promise<PasteLink> {
  const { config, reporter, secrets } = flow;
  const pushed = usesPar(config, as);
  const authorization = await authorizationSecrets(as, config, secrets, (message) => reporter.warn(message));
  const { host, path, search } = config.redirect;
  const redirectUri = `http://${host}:${config.redirect.port || randomInt(49152, 65536)}${path}${search}`;
  const request = authorizationUrl(as, config, redirectUri, authorization.pkce, authorization.state, authorization.nonce);
  // Pushed (RFC 9126): the link shown carries only client_id and request_uri.
  const push = pushed ? await pushAuthorizationRequest(flowTokenContext(flow, as), request, registerHint(config, redirectUri, "Register")) : undefined;
  const url = (push?.url ?? request).href;
  const deadline = Date.now() + config.timeoutMs;
  // Nothing listens here to push the request again: the link itself expires with the pushed request.
  reporter.waitingForPaste({ issuer: signInTitle(config, as), url, deadline, redirectUri, prompted, linkExpiresAt: push?.expiresAt });
  await reporter.flush();
  void openBrowser(url, config.openBrowser, reportBrowser(reporter));
  return { redirectUri, url, authorization, deadline };
}

/** The kernel's way to ask for a line of text (Deno's `prompt`, a Jupyter input_request), if it has one. */
function kernelPrompt(): ((message: string) => string | null) | undefined {
  const deno = (globalThis as { Deno?: unknown }).Deno;
  const ask = (globalThis as { prompt?: (message: string, defaultValue?: string, options?: { password?: boolean }) => string | null }).prompt;
  // As a password: the frontend neither shows nor saves what is pasted (the address holds the code).
  // Deno's Jupyter `prompt` takes `{ password }`; elsewhere the third argument is ignored.
  return deno !== undefined && typeof ask === "function" ? (message) => ask(message, "", { password: true }) : undefined;
}

const NO_STDIN =
  '`flow: "manual"` asks for the address in the cell, which needs a kernel with input (Deno\'s, run from Jupyter or VS Code); here, use two cells: `const pending = await beginLogin(config)` shows the link, then `const headers = await pending.complete("<the address your browser ended on>")`.';

/** Tries a pasted address may take before the sign-in gives up (a wrong one is never spent). */
const PASTE_TRIES = 3;

/**
 * The paste flow in one cell, for kernels the browser cannot reach: the link is shown, and the
 * kernel asks for the address the browser ended on (Jupyter's input_request; Deno's kernel supports
 * it, tslab does not). The same checks as `pending.complete()`: this sign-in's redirect URI and
 * `state`, then PKCE and `iss` at the exchange. A wrong address is asked again, at most three times.
 */
export async function runPromptedLogin(flow: FlowContext, as: ServerMetadata): Promise<TokenSet> {
  const ask = kernelPrompt();
  if (!ask) throw new LoginError("INVALID_CONFIG", NO_STDIN);
  const link = await showPasteLink(flow, as, true);
  for (let attempt = 1; ; attempt++) {
    const answer = ask(
      attempt === 1 ? "Paste the address your browser ended on:" : "That was not this sign-in's address; paste the one from the tab it opened:",
    );
    if (answer === null) throw new LoginError("INVALID_CONFIG", NO_STDIN);
    if (answer.trim() === "") throw new LoginError("ABORTED", "No address was pasted: the sign-in stopped. Run the cell again to sign in.");
    try {
      pastedCallbackParams(answer, link.redirectUri, link.authorization.state);
    } catch (error) {
      if (attempt >= PASTE_TRIES) throw error;
      flow.reporter.event((error as Error).message);
      continue;
    }
    return completePastedSignIn(flow, as, link, answer);
  }
}
