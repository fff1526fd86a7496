import { createHash } from "node:crypto";
import * as oauth from "oauth4webapi";
import type { SecureContext } from "node:tls";
import type { Dispatcher, Response as UndiciResponse } from "undici";
import { bounded } from "./body.js";
import { ProxyRequestError } from "./network-errors.js";
import { proxyFor } from "./proxy-route.js";
import type { ProxyChoice, ProxySettings } from "../util/proxy.js";
import { trustedAuthorities } from "./trust.js";
import { isSecureUrl } from "../util/urls.js";

/**
 * Transport for every HTTP request the library makes: undici's fetch, a per-request timeout
 * (covering the body too) combined with the login's own signal, bodies read up to 1 MiB, plain
 * http refused except on loopback (oauth4webapi's `allowInsecureRequests` is all-or-nothing, so
 * the loopback rule is enforced here), the proxy chosen per destination (proxy.ts), and the
 * machine's certificate authorities plus `ca` (trust.ts). TLS certificates are always verified.
 */
export interface Transport {
  options: {
    [oauth.customFetch]: NonNullable<oauth.HttpRequestOptions<string, unknown>[typeof oauth.customFetch]>;
    [oauth.allowInsecureRequests]: boolean;
    signal: () => AbortSignal;
  };
  requestTimeoutMs: number;
}

/** How requests are sent: each one's timeout, extra trusted authorities (PEM), the proxy settings. */
export interface NetworkOptions {
  requestTimeoutMs: number;
  ca: Array<string | Buffer> | undefined;
  proxy: ProxySettings;
}

class InsecureRequestError extends Error {
  constructor(url: string) {
    super(`refused to send a request over plain http to a non-loopback host: ${url}`);
    this.name = "InsecureRequestError";
  }
}

const NEVER_ABORTED = new AbortController().signal;

type Undici = typeof import("undici");
let undiciModule: Undici | undefined;
/** undici, loaded with the first request: its import costs more than a whole warm login. */
async function undici(): Promise<Undici> {
  return (undiciModule ??= await import("undici"));
}

/** `signal` (the login's own) cancels every request; each also has its own timeout. */
export function createTransport(network: NetworkOptions, signal: AbortSignal | undefined): Transport {
  const customFetch = async (url: string, init: oauth.CustomFetchOptions<string, unknown>): Promise<Response> => {
    const target = new URL(url);
    if (!isSecureUrl(target)) throw new InsecureRequestError(url);
    const { fetch, Response } = await undici();
    const { dispatcher, proxy } = await route(target, network);
    // The timer covers reading the body as well (a server may send headers, then stall), and is
    // cleared as soon as the body is read or dropped: no timer outlives a finished request.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")), network.requestTimeoutMs);
    timer.unref();
    const settle = (): void => clearTimeout(timer);
    const requestSignal = init.signal ? AbortSignal.any([init.signal, timeout.signal]) : timeout.signal;
    let response: UndiciResponse;
    try {
      response = await fetch(url, { ...(init as Parameters<typeof fetch>[1]), signal: requestSignal, ...(dispatcher ? { dispatcher } : {}) });
    } catch (error) {
      settle();
      throw proxy ? new ProxyRequestError(proxy, error) : error;
    }
    // undici's Response is structurally the global one; oauth4webapi accepts it (loose instanceof).
    return bounded(response, url, settle, Response) as unknown as Response;
  };
  return {
    requestTimeoutMs: network.requestTimeoutMs,
    options: {
      [oauth.customFetch]: customFetch as Transport["options"][typeof oauth.customFetch],
      [oauth.allowInsecureRequests]: true,
      signal: () => signal ?? NEVER_ABORTED,
    },
  };
}

/**
 * How a request to `target` travels: through its proxy or directly, trusting the machine's
 * authorities plus `ca`. Undefined dispatcher means undici's default (nothing to add). Agents are
 * made once per proxy and set of authorities, and reused by every later request.
 */
export async function route(
  target: URL,
  network: Pick<NetworkOptions, "ca" | "proxy">,
): Promise<{ dispatcher: Dispatcher | undefined; proxy: ProxyChoice | undefined }> {
  const proxy = proxyFor(target, network.proxy);
  const ca = authorities(network.ca);
  if (!proxy && !ca) return { dispatcher: undefined, proxy };
  const key = `${proxy?.url.href ?? "direct"}\n${ca?.key ?? ""}`;
  let dispatcher = dispatchers.get(key);
  if (!dispatcher) {
    const { Agent, ProxyAgent } = await undici();
    // One secure context for the whole list: given as `ca`, Node would parse every certificate again
    // for each TLS connection.
    const tlsOptions = ca ? { secureContext: await secureContextFor(ca), rejectUnauthorized: true } : {};
    dispatcher = proxy ? new ProxyAgent({ uri: proxy.url.href, requestTls: tlsOptions, proxyTls: tlsOptions }) : new Agent({ connect: tlsOptions });
    dispatchers.set(key, dispatcher);
  }
  return { dispatcher, proxy };
}

const dispatchers = new Map<string, Dispatcher>();

const contexts = new Map<string, SecureContext>();
async function secureContextFor(ca: { pems: string[]; key: string }): Promise<SecureContext> {
  let context = contexts.get(ca.key);
  if (!context) {
    const { createSecureContext } = await import("node:tls");
    context = createSecureContext({ ca: ca.pems });
    contexts.set(ca.key, context);
  }
  return context;
}

let lastAuthorities: { input: string; value: { pems: string[]; key: string } | undefined } | undefined;
/** The authorities to trust, computed once for the same `ca` and environment. */
function authorities(ca: ReadonlyArray<string | Buffer> | undefined): { pems: string[]; key: string } | undefined {
  const env = process.env;
  const input = [env.SSL_CERT_FILE, env.SSL_CERT_DIR, env.NODE_EXTRA_CA_CERTS, ...(ca ?? []).map((c) => c.toString())].join("\n");
  if (lastAuthorities?.input !== input) {
    const pems = trustedAuthorities(ca, env);
    lastAuthorities = { input, value: pems && { pems, key: createHash("sha256").update(pems.join("\n")).digest("hex") } };
  }
  return lastAuthorities.value;
}
