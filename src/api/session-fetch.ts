import type { Response as UndiciResponse } from "undici";
import type { ResolvedConfig } from "../options/types.js";
import type { DpopKey } from "../protocol/dpop.js";
import type { CacheEntry } from "../store/cache.js";
import { contains } from "../util/urls.js";

/**
 * One request of `session().fetch()` with the token: the header (and with DPoP a fresh proof) on
 * each hop it may go to, redirects followed here when the token must not follow them blindly (a
 * DPoP proof is for one method and URL; by `resource`, the token stays within the API), by the
 * Fetch standard's rules. Loaded with undici, on the first fetch.
 */
export interface TokenRequest {
  url: URL;
  init: RequestInit;
  config: ResolvedConfig;
  /** By `resource`: the API; the token goes only to URLs within it. */
  api: URL | undefined;
  key: (entry: CacheEntry) => Promise<DpopKey>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** As many as the Fetch standard follows. */
const MAX_REDIRECTS = 20;

/** Replaying a body is possible only when it is not a one-shot stream. */
export function isReplayable(body: RequestInit["body"]): boolean {
  if (body === undefined || body === null || typeof body === "string") return true;
  if (body instanceof URLSearchParams || body instanceof ArrayBuffer || ArrayBuffer.isView(body) || body instanceof Blob) return true;
  return (body as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === "FormData";
}

/** Sends the request with `entry`'s token; `nonceGiven` tells whether a DPoP answer carried a nonce. */
export async function sendWithToken(request: TokenRequest, entry: CacheEntry): Promise<{ response: UndiciResponse; nonceGiven: boolean }> {
  const { fetch, Headers } = await import("undici");
  const { route } = await import("../protocol/http.js");
  const { url, init, config, api } = request;
  type UndiciInit = NonNullable<Parameters<typeof fetch>[1]>;
  const followHere = (config.dpop || api !== undefined) && (init.redirect ?? "follow") === "follow";
  let nonceGiven = false;
  let target = url;
  let method = (init.method ?? "GET").toUpperCase();
  let body = init.body;
  const headers = new Headers(init.headers as ConstructorParameters<typeof Headers>[0]);
  for (let hop = 0; ; hop++) {
    const { dispatcher } = await route(target, config);
    // As fetch does: the credentials go to the origin asked for (by `resource`: to the API), never elsewhere.
    const credentials = api ? contains(api, target) : target.origin === url.origin;
    const key = config.dpop && credentials ? await request.key(entry) : undefined;
    headers.delete("authorization");
    headers.delete("dpop");
    // RFC 9449 §7.1: a bound token goes with the DPoP scheme and a fresh proof for this request.
    if (credentials) headers.set("authorization", `${config.dpop ? "DPoP" : "Bearer"} ${entry.accessToken}`);
    if (key) headers.set("dpop", await key.proof(method, target, entry.accessToken));
    const response = await fetch(target, {
      ...(init as UndiciInit),
      method,
      body: body as UndiciInit["body"],
      headers,
      ...(followHere ? { redirect: "manual" as const } : {}),
      ...(dispatcher && !("dispatcher" in init) ? { dispatcher } : {}),
    });
    // A resource server may hand out the nonce for the next proof in any answer (RFC 9449 §9).
    if (key) nonceGiven = key.rememberNonce(target, response.headers);
    const location = response.headers.get("location");
    if (!followHere || !REDIRECTS.has(response.status) || location === null || hop >= MAX_REDIRECTS) return { response, nonceGiven };
    // 303, and 301/302 after a POST, become a GET without body (the Fetch standard's rules).
    if (response.status === 303 ? method !== "HEAD" : (response.status === 301 || response.status === 302) && method === "POST") {
      method = "GET";
      body = undefined;
      for (const name of ["content-type", "content-encoding", "content-language", "content-location"]) headers.delete(name);
    } else if (!isReplayable(body)) {
      return { response, nonceGiven }; // a streamed body cannot be sent to the new address
    }
    await response.body?.cancel().catch(() => {});
    target = new URL(location, target);
  }
}
