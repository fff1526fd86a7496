import { ResponseTooLargeError } from "./body.js";
import type { ProxyChoice } from "../util/proxy.js";

/**
 * What went wrong on the way (not in what a server said), in words: timeouts, oversized bodies,
 * network and TLS failures, and proxies. A request made through a proxy fails as a
 * {@link ProxyRequestError}, so that every message can name the proxy and what chose it.
 */

/** A request through a proxy failed; `cause` is undici's error. Names the proxy, never its credentials. */
export class ProxyRequestError extends Error {
  readonly proxy: Pick<ProxyChoice, "label" | "source">;
  constructor(proxy: ProxyChoice, cause: unknown) {
    super(`request through the proxy ${proxy.label} (set by ${proxy.source}) failed`, { cause });
    this.name = "ProxyRequestError";
    this.proxy = { label: proxy.label, source: proxy.source };
  }
}

function findProxy(error: unknown): ProxyRequestError | undefined {
  for (let e = error, i = 0; e && i < 6; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof ProxyRequestError) return e;
  }
  return undefined;
}

/** " through the proxy host:port (set by $HTTPS_PROXY)" when the request went through one, else "". */
export function viaProxy(error: unknown): string {
  const proxied = findProxy(error);
  return proxied ? ` through the proxy ${proxied.proxy.label} (set by ${proxied.proxy.source})` : "";
}

/** True when an error is the per-request timeout (not the login's own abort). */
export function isTimeout(error: unknown): boolean {
  // Errors only: a server's JSON error body (oauth4webapi puts it in `cause`) is not one.
  for (let e = error, i = 0; e instanceof Error && i < 5; e = e.cause, i++) {
    if ((e as { name?: string }).name === "TimeoutError") return true;
  }
  return false;
}

/** The {@link ResponseTooLargeError} in an error's cause chain, if any. */
export function tooLarge(error: unknown): ResponseTooLargeError | undefined {
  for (let e = error, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof ResponseTooLargeError) return e;
  }
  return undefined;
}

/** True when a request failed on the way (timeout, size, network, TLS, proxy), not in what the server said. */
export function isTransportFailure(error: unknown): boolean {
  if (isTimeout(error) || tooLarge(error) || findProxy(error)) return true;
  for (let e = error, i = 0; e instanceof Error && i < 5; e = e.cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (code in NETWORK_REASONS || code in TLS_REASONS)) return true;
  }
  return false;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "name resolution failed",
  ECONNRESET: "connection reset",
  UND_ERR_SOCKET: "connection closed by the server",
  UND_ERR_CONNECT_TIMEOUT: "connect timeout",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

const UNTRUSTED =
  "its TLS certificate is not issued by an authority this machine trusts; for a private certificate authority, pass its PEM certificate as `ca`, or name its file in SSL_CERT_FILE";
const TLS_REASONS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED,
  DEPTH_ZERO_SELF_SIGNED_CERT: UNTRUSTED,
  CERT_UNTRUSTED: UNTRUSTED,
  CERT_SIGNATURE_FAILURE: "its TLS certificate has an invalid signature",
  CERT_HAS_EXPIRED: "its TLS certificate has expired",
  CERT_NOT_YET_VALID: "its TLS certificate is not valid yet (check this machine's clock)",
  ERR_TLS_CERT_ALTNAME_INVALID: "its TLS certificate is for another host name",
};

/** A short human reason for a failed request, with the underlying code: "connection refused, ECONNREFUSED". */
export function networkReason(error: unknown): string {
  const large = tooLarge(error);
  if (large) return large.message;
  const proxied = findProxy(error);
  if (proxied) return proxyReason(proxied);
  for (let e = error, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code in TLS_REASONS) return `${TLS_REASONS[code]}, ${code}`;
    if (typeof code === "string" && code in NETWORK_REASONS) return `${NETWORK_REASONS[code]}, ${code}`;
  }
  const code = (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof code === "string" ? code : ((error as Error)?.message ?? String(error));
}

/**
 * Why a proxied request failed. The connection to the proxy itself failing is the proxy's fault;
 * a refused tunnel names the proxy's answer; anything after the tunnel (TLS of the server) is the
 * server's, reached through the proxy.
 */
function proxyReason(error: ProxyRequestError): string {
  const { label, source } = error.proxy;
  const fix = `check ${source.startsWith("$") ? source : "it"}, or set \`proxy\` (a URL, or false for none)`;
  const tunnel = /Proxy response \((\d{3})\)/.exec(messages(error.cause));
  // 407 is the standard answer; some proxies (tinyproxy) answer a tunnel request with 401.
  if (tunnel?.[1] === "407" || tunnel?.[1] === "401") {
    return `the proxy ${label} (set by ${source}) asks for credentials, or refused them (HTTP ${tunnel[1]}): put them in the proxy URL, http://user:password@${label}`;
  }
  if (tunnel) return `the proxy ${label} (set by ${source}) refused to connect to the server (HTTP ${tunnel[1]}): it may not reach it or not allow it; ${fix}`;
  for (let e = error.cause, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code in TLS_REASONS) return `${TLS_REASONS[code]}, ${code}, through the proxy ${label} (set by ${source})`;
    if (typeof code === "string" && code in NETWORK_REASONS)
      return `the proxy ${label} (set by ${source}) could not be reached: ${NETWORK_REASONS[code]}, ${code}; ${fix}`;
  }
  return `through the proxy ${label} (set by ${source}): ${messages(error.cause) || "failed"}`;
}

function messages(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof Error) parts.push(e.message);
  }
  return parts.join("; ");
}
