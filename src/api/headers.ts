import { INSPECT } from "../util/inspect.js";

/**
 * What `login()` resolves to: a plain header object, `{ Authorization: "Bearer <token>" }`, usable
 * as-is as `fetch(url, { headers: headers })`, with undici and with axios. Its only own property
 * is `Authorization`; printing it (`console.log`, `util.inspect`, a notebook cell's value,
 * `JSON.stringify`, string conversion) shows `Bearer [redacted]`. Read `headers.Authorization`
 * to get the raw value on purpose.
 */
export type AuthHeaders = { readonly Authorization: string };

const REDACTED = "Bearer [redacted]";

// The printing methods live on the prototype: undici's fetch converts a headers object by taking
// every own key, enumerable or not, so an own `toJSON` would be sent as a header and fail.
class BearerHeaders {
  declare readonly Authorization: string;

  constructor(accessToken: string) {
    Object.defineProperty(this, "Authorization", { value: `Bearer ${accessToken}`, enumerable: true, writable: false, configurable: false });
    Object.freeze(this);
  }

  toJSON(): { Authorization: string } {
    return { Authorization: REDACTED };
  }

  toString(): string {
    return `{ Authorization: "${REDACTED}" }`;
  }

  [INSPECT](): string {
    return `AuthHeaders { Authorization: '${REDACTED}' }`;
  }
}

export function createAuthHeaders(accessToken: string): AuthHeaders {
  return new BearerHeaders(accessToken);
}
