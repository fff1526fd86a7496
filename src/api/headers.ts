import { INSPECT } from "../util/inspect.js";

/**
 * What `login()` resolves to: a plain header object, `{ Authorization: "Bearer <token>" }`, usable
 * as-is as `fetch(url, { headers: headers })`, with undici and with axios. Its only own property
 * is `Authorization`; printing it (`console.log`, `util.inspect`, a notebook cell's value,
 * `JSON.stringify`, string conversion) shows `Bearer [redacted]`. Read `headers.Authorization`
 * to get the raw value on purpose.
 */
export type AuthHeaders = { readonly Authorization: string };

/**
 * The headers of one request with a DPoP-bound token (RFC 9449 §7.1), from
 * `session().headers(method, url)`: `{ Authorization: "DPoP <token>", DPoP: "<proof>" }`. The
 * proof is valid for that method and URL only, once, for about a minute. Printed redacted too.
 */
export type DpopHeaders = { readonly Authorization: string; readonly DPoP: string };

// The printing methods live on the prototype: undici's fetch converts a headers object by taking
// every own key, enumerable or not, so an own `toJSON` would be sent as a header and fail.
class TokenHeaders {
  declare readonly Authorization: string;
  declare readonly DPoP?: string;

  constructor(scheme: "Bearer" | "DPoP", accessToken: string, proof: string | undefined) {
    Object.defineProperty(this, "Authorization", { value: `${scheme} ${accessToken}`, enumerable: true, writable: false, configurable: false });
    if (proof !== undefined) Object.defineProperty(this, "DPoP", { value: proof, enumerable: true, writable: false, configurable: false });
    Object.freeze(this);
  }

  #redacted(): { Authorization: string; DPoP?: string } {
    const scheme = this.Authorization.slice(0, this.Authorization.indexOf(" "));
    return this.DPoP === undefined ? { Authorization: `${scheme} [redacted]` } : { Authorization: `${scheme} [redacted]`, DPoP: "[redacted]" };
  }

  toJSON(): { Authorization: string; DPoP?: string } {
    return this.#redacted();
  }

  toString(): string {
    return `{ ${Object.entries(this.#redacted())
      .map(([key, value]) => `${key}: "${value}"`)
      .join(", ")} }`;
  }

  [INSPECT](): string {
    const name = this.DPoP === undefined ? "AuthHeaders" : "DpopHeaders";
    return `${name} { ${Object.entries(this.#redacted())
      .map(([key, value]) => `${key}: '${value}'`)
      .join(", ")} }`;
  }
}

export function createAuthHeaders(accessToken: string): AuthHeaders {
  return new TokenHeaders("Bearer", accessToken, undefined);
}

export function createDpopHeaders(accessToken: string, proof: string): DpopHeaders {
  return new TokenHeaders("DPoP", accessToken, proof) as DpopHeaders;
}
