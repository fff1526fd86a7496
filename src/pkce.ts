import * as oauth from "oauth4webapi";

/** A PKCE pair (RFC 7636). The verifier is 43 characters from 32 CSPRNG bytes. */
export interface Pkce {
  verifier: string;
  challenge: string;
  method: "S256" | "plain";
}

/**
 * Picks the PKCE method: S256 whenever the server advertises it or advertises nothing; `plain`
 * only when the server lists methods and S256 is not among them (RFC 7636 §4.2: S256 is
 * mandatory to implement, so such a server is non-conforming, and we never downgrade otherwise).
 */
export function choosePkceMethod(supported: readonly string[] | undefined): "S256" | "plain" | undefined {
  if (!supported || supported.length === 0 || supported.includes("S256")) return "S256";
  if (supported.includes("plain")) return "plain";
  return undefined;
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
