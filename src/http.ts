import * as oauth from "oauth4webapi";
import { fetch as undiciFetch } from "undici";
import { isLoopbackHost } from "./config.js";

/**
 * Transport for every HTTP request of a login: undici's fetch, a per-request timeout combined with
 * the login's own signal, and plain http refused except on loopback (oauth4webapi's
 * `allowInsecureRequests` is all-or-nothing, so the loopback rule is enforced here).
 */
export interface Transport {
  options: {
    [oauth.customFetch]: NonNullable<oauth.HttpRequestOptions<string, unknown>[typeof oauth.customFetch]>;
    [oauth.allowInsecureRequests]: boolean;
    signal: () => AbortSignal;
  };
  requestTimeoutMs: number;
}

export class InsecureRequestError extends Error {
  constructor(url: string) {
    super(`refused to send a request over plain http to a non-loopback host: ${url}`);
    this.name = "InsecureRequestError";
  }
}

export function createTransport(loginSignal: AbortSignal | undefined, requestTimeoutMs: number): Transport {
  const customFetch = async (url: string, init: oauth.CustomFetchOptions<string, unknown>): Promise<Response> => {
    const target = new URL(url);
    if (target.protocol === "http:" && !isLoopbackHost(target.hostname)) throw new InsecureRequestError(url);
    // undici's Response is structurally the global one; oauth4webapi accepts it (loose instanceof).
    return (await undiciFetch(url, init as Parameters<typeof undiciFetch>[1])) as unknown as Response;
  };
  return {
    requestTimeoutMs,
    options: {
      [oauth.customFetch]: customFetch as Transport["options"][typeof oauth.customFetch],
      [oauth.allowInsecureRequests]: true,
      signal: () => (loginSignal ? AbortSignal.any([loginSignal, AbortSignal.timeout(requestTimeoutMs)]) : AbortSignal.timeout(requestTimeoutMs)),
    },
  };
}

/** True when an error is the per-request timeout (not the login's own abort). */
export function isTimeout(error: unknown): boolean {
  for (let e = error, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if ((e as { name?: string }).name === "TimeoutError") return true;
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

/** A short human reason for a failed request, with the underlying code: "connection refused, ECONNREFUSED". */
export function networkReason(error: unknown): string {
  for (let e = error, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code in NETWORK_REASONS) return `${NETWORK_REASONS[code]}, ${code}`;
  }
  const code = (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof code === "string" ? code : ((error as Error)?.message ?? String(error));
}
