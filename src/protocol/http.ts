import { createHash } from "node:crypto";
import * as oauth from "oauth4webapi";
import type { Agent, Response as UndiciResponse } from "undici";
import { isSecureUrl } from "./urls.js";

/**
 * Transport for every HTTP request of a login: undici's fetch, a per-request timeout (covering the
 * body too) combined with the login's own signal, bodies read up to {@link MAX_RESPONSE_BYTES}, and
 * plain http refused except on loopback (oauth4webapi's `allowInsecureRequests` is all-or-nothing,
 * so the loopback rule is enforced here). TLS certificates are always verified; the `ca` option
 * adds trusted authorities, it never turns verification off.
 */
export interface Transport {
  options: {
    [oauth.customFetch]: NonNullable<oauth.HttpRequestOptions<string, unknown>[typeof oauth.customFetch]>;
    [oauth.allowInsecureRequests]: boolean;
    signal: () => AbortSignal;
  };
  requestTimeoutMs: number;
  /** The login's own signal; the per-request timeout is added inside each request. */
  loginSignal: AbortSignal | undefined;
  /** Certificate authorities trusted in addition to Node's (the `ca` option), PEM. */
  ca: ReadonlyArray<string | Buffer> | undefined;
}

/** Metadata, token and revocation responses are a few kilobytes; anything past this is refused unread. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export class InsecureRequestError extends Error {
  constructor(url: string) {
    super(`refused to send a request over plain http to a non-loopback host: ${url}`);
    this.name = "InsecureRequestError";
  }
}

/** A response body larger than {@link MAX_RESPONSE_BYTES}: the rest was not read. */
export class ResponseTooLargeError extends Error {
  readonly code = "RESPONSE_TOO_LARGE";
  constructor(url: string) {
    super(`the response from ${url} is larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB; the rest was not read`);
    this.name = "ResponseTooLargeError";
  }
}

const NEVER_ABORTED = new AbortController().signal;

type Undici = typeof import("undici");
let undiciModule: Undici | undefined;
/** undici, loaded with the first request: its import costs more than a whole warm login. */
async function undici(): Promise<Undici> {
  return (undiciModule ??= await import("undici"));
}

export function createTransport(loginSignal: AbortSignal | undefined, requestTimeoutMs: number, ca?: ReadonlyArray<string | Buffer>): Transport {
  let dispatcher: Agent | undefined;
  const customFetch = async (url: string, init: oauth.CustomFetchOptions<string, unknown>): Promise<Response> => {
    const target = new URL(url);
    if (!isSecureUrl(target)) throw new InsecureRequestError(url);
    const { fetch, Agent, Response } = await undici();
    if (ca && ca.length > 0) dispatcher ??= agentTrusting(Agent, (await import("node:tls")).rootCertificates, ca);
    // The timer covers reading the body as well (a server may send headers, then stall), and is
    // cleared as soon as the body is read or dropped: no timer outlives a finished request.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")), requestTimeoutMs);
    timer.unref();
    const settle = (): void => clearTimeout(timer);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout.signal]) : timeout.signal;
    let response: UndiciResponse;
    try {
      response = await fetch(url, { ...(init as Parameters<typeof fetch>[1]), signal, ...(dispatcher ? { dispatcher } : {}) });
    } catch (error) {
      settle();
      throw error;
    }
    // undici's Response is structurally the global one; oauth4webapi accepts it (loose instanceof).
    return bounded(response, url, settle, Response) as unknown as Response;
  };
  return {
    requestTimeoutMs,
    loginSignal,
    ca,
    options: {
      [oauth.customFetch]: customFetch as Transport["options"][typeof oauth.customFetch],
      [oauth.allowInsecureRequests]: true,
      signal: () => loginSignal ?? NEVER_ABORTED,
    },
  };
}

/**
 * The same response, with a body that errors with {@link ResponseTooLargeError} past the limit
 * (and the connection dropped), and `settle` called once the body is read, failed or cancelled.
 */
function bounded(response: UndiciResponse, url: string, settle: () => void, UndiciResponseClass: Undici["Response"]): UndiciResponse {
  const body = response.body;
  if (!body) {
    settle();
    return response;
  }
  const declared = Number(response.headers.get("content-length") ?? "");
  if (declared > MAX_RESPONSE_BYTES) {
    settle();
    void body.cancel().catch(() => {});
    throw new ResponseTooLargeError(url);
  }
  const reader = body.getReader();
  let received = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            settle();
            controller.close();
            return;
          }
          received += value.byteLength;
          if (received > MAX_RESPONSE_BYTES) {
            const error = new ResponseTooLargeError(url);
            settle();
            controller.error(error);
            await reader.cancel(error).catch(() => {});
            return;
          }
          controller.enqueue(value);
        } catch (error) {
          settle();
          controller.error(error);
        }
      },
      async cancel(reason) {
        settle();
        await reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
  const nullBody = [101, 204, 205, 304].includes(response.status);
  let copy: UndiciResponse;
  try {
    copy = new UndiciResponseClass(nullBody ? null : (stream as ConstructorParameters<Undici["Response"]>[0]), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  } catch (error) {
    // A status the Response class refuses (outside 200-599): nothing usable came back.
    void stream.cancel(error).catch(() => {});
    throw error;
  }
  if (nullBody) void stream.cancel().catch(() => {});
  Object.defineProperty(copy, "url", { value: response.url });
  return copy;
}

/** Drops a response body nobody will read (frees the connection and the request's timer). */
export async function discard(response: Response | undefined): Promise<void> {
  try {
    await response?.body?.cancel();
  } catch {
    // already read, or being read
  }
}

const agents = new Map<string, Agent>();
/** One undici Agent per set of extra authorities: Node's bundled roots plus these, verification on. */
function agentTrusting(AgentClass: Undici["Agent"], rootCertificates: readonly string[], ca: ReadonlyArray<string | Buffer>): Agent {
  const pems = ca.map((entry) => (typeof entry === "string" ? entry : entry.toString("utf8")));
  const key = createHash("sha256").update(pems.join("\n")).digest("hex");
  let agent = agents.get(key);
  if (!agent) {
    agent = new AgentClass({ connect: { ca: [...rootCertificates, ...pems], rejectUnauthorized: true } });
    agents.set(key, agent);
  }
  return agent;
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

/** True when a request failed on the way (timeout, size, network, TLS), not in what the server said. */
export function isTransportFailure(error: unknown): boolean {
  if (isTimeout(error) || tooLarge(error)) return true;
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

const UNTRUSTED = "its TLS certificate is not issued by an authority this machine trusts; for a private certificate authority, pass its PEM certificate as `ca`";
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
  for (let e = error, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code in TLS_REASONS) return `${TLS_REASONS[code]}, ${code}`;
    if (typeof code === "string" && code in NETWORK_REASONS) return `${NETWORK_REASONS[code]}, ${code}`;
  }
  const code = (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof code === "string" ? code : ((error as Error)?.message ?? String(error));
}
