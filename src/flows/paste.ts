import { LoginError } from "../errors.js";
import { hasOurState } from "../protocol/authorization.js";
import { clip } from "../util/text.js";

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
