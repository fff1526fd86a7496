/**
 * The one rule for every URL the library sends a request to or shows as a link: https, or plain
 * http on a loopback host (RFC 8252 §8.3). Options, discovered metadata, device verification links
 * and the transport all apply it through this module.
 */

const LOOPBACK_NAMES = new Set(["127.0.0.1", "[::1]", "::1", "localhost"]);

/** 127.0.0.0/8, `::1` (with or without brackets) and `localhost`. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_NAMES.has(hostname.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** An https URL, or plain http on a loopback host. */
export function isSecureUrl(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
}

/** {@link isSecureUrl} for a value that may not be a URL at all (server metadata). */
export function isSafeEndpoint(value: unknown): boolean {
  return typeof value === "string" && URL.canParse(value) && isSecureUrl(new URL(value));
}

/**
 * `outer` is `inner` or contains it: same origin, and outer's path a prefix of inner's by whole
 * path segments (`/v1` contains `/v1` and `/v1/projects`, never `/v10`). An API (RFC 8707) and
 * the URLs its token may go to.
 */
export function contains(outer: URL, inner: URL): boolean {
  if (outer.origin !== inner.origin || (outer.search !== "" && outer.search !== inner.search)) return false;
  const base = outer.pathname.endsWith("/") ? outer.pathname : `${outer.pathname}/`;
  return inner.pathname === outer.pathname || inner.pathname.startsWith(base);
}
