import type { LoginConfig } from "../options/types.js";
import type { PendingLogin } from "./types.js";

/**
 * The two-cell sign-in, for kernels the browser cannot reach when the server has no device flow:
 * tslab has no stdin and runs one cell at a time, so a cell cannot wait for a pasted address.
 * `beginLogin()` shows the sign-in link and returns at once; after signing in, the browser ends on
 * an error page (nothing listens for the redirect), whose address the user pastes into
 * `pending.complete(address)` in the next cell. The same `state`, PKCE and `iss` (RFC 9207) checks
 * as the loopback flow apply, and the tokens go to the same cache. `flow` is not used.
 *
 * @example
 * ```ts
 * const pending = await beginLogin({ issuer: "https://id.example.com", clientId: "my-app", scopes: ["openid"] });
 * ```
 * ```ts
 * const headers = await pending.complete("http://127.0.0.1:53682/callback?code=...&state=...");
 * ```
 */
export async function beginLogin(config: LoginConfig): Promise<PendingLogin> {
  // The two-cell flow's code is loaded when it is used: importing the package stays cheap.
  const { startPendingLogin } = await import("./pending.js");
  return startPendingLogin(config);
}
