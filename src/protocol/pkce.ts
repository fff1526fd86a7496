import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";

/** A PKCE pair (RFC 7636). The verifier is 43 characters from 32 CSPRNG bytes. */
export interface Pkce {
  verifier: string;
  challenge: string;
  method: "S256" | "plain";
}

/**
 * Picks the PKCE method (RFC 7636; RFC 9700 §2.1.1: use S256 whenever the server accepts it):
 * - nothing asked: S256 when the server advertises it or advertises nothing; `plain` only when it
 *   lists methods and S256 is not among them (a non-conforming server: S256 is mandatory to
 *   implement);
 * - `"plain"` asked: refused when the server lists S256 (a downgrade for nothing);
 * - `"S256"` asked: refused when the server lists methods without it.
 * Returns the method, or the error to throw.
 */
export function choosePkceMethod(supported: readonly string[] | undefined, asked?: "S256" | "plain"): "S256" | "plain" | { error: LoginError } {
  const listed = supported && supported.length > 0 ? supported : undefined;
  if (asked === "plain" && listed?.includes("S256")) {
    return {
      error: new LoginError(
        "INVALID_CONFIG",
        '`pkceMethod: "plain"` was given, but the server supports S256: remove `pkceMethod` (plain would only weaken the sign-in).',
      ),
    };
  }
  const method = asked ?? (!listed || listed.includes("S256") ? "S256" : "plain");
  if (listed && !listed.includes(method)) {
    return {
      error: new LoginError(
        "DISCOVERY_FAILED",
        `The server does not support the PKCE method ${method} (it lists ${JSON.stringify(supported)}); tslab-oauth needs S256 or plain.`,
      ),
    };
  }
  return method;
}

export async function createPkce(method: "S256" | "plain" = "S256"): Promise<Pkce> {
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = method === "S256" ? await oauth.calculatePKCECodeChallenge(verifier) : verifier;
  return { verifier, challenge, method };
}

/** RFC 7636 S256: BASE64URL(SHA256(ASCII(verifier))). */
export function s256(verifier: string): Promise<string> {
  return oauth.calculatePKCECodeChallenge(verifier);
}
