import { INSPECT } from "../util/inspect.js";
import { DeferredReporter } from "../notebook/reporter.js";
import { createReporter } from "../notebook/create.js";
import type { LoginConfig, ResolvedConfig } from "../options/types.js";
import { SecretSet } from "../secrets.js";
import { isFresh, type CacheEntry } from "../store/cache.js";
import { storeFor, type TokenStore } from "../store/token-store.js";
import { LoginError } from "../errors.js";
import type { DpopKey } from "../protocol/dpop.js";
import { resolveOrReport, runCall, successInfo } from "./call.js";
import { createAuthHeaders, createDpopHeaders, type AuthHeaders, type DpopHeaders } from "./headers.js";
import { obtainTokens } from "./obtain.js";
import type { LogoutResult, Session } from "./types.js";

/**
 * Signs in like {@link login} and returns a {@link Session} that keeps the sign-in usable for as
 * long as the notebook runs: `headers()` refreshes ahead of expiry, `fetch()` adds the header and,
 * when the API answers 401, refreshes once and retries. Refreshes are silent; if the server refused
 * the refresh token, the next call shows a Sign in link in the cell that runs it.
 *
 * @example
 * ```ts
 * const api = await session({ issuer: "https://id.example.com", clientId: "my-app", scopes: ["openid", "offline_access"] });
 * const res = await api.fetch("https://api.example.com/me");
 * console.log(await res.json());
 * ```
 */
export async function session(config: LoginConfig): Promise<Session> {
  const resolved = resolveOrReport(config);
  const created = new NotebookSession(resolved, await storeFor(resolved));
  await created.start(resolved.forceLogin);
  return created;
}

/** Replaying a body is possible only when it is not a one-shot stream. */
function isReplayable(body: RequestInit["body"]): boolean {
  if (body === undefined || body === null || typeof body === "string") return true;
  if (body instanceof URLSearchParams || body instanceof ArrayBuffer || ArrayBuffer.isView(body) || body instanceof Blob) return true;
  return (body as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === "FormData";
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** As many as the Fetch standard follows. */
const MAX_REDIRECTS = 20;

/** A 401 whose challenge asks for the server's DPoP nonce (RFC 9449 §9). */
function isNonceChallenge(challenge: string | null): boolean {
  return challenge !== null && /\bDPoP\b/i.test(challenge) && /error\s*=\s*"?use_dpop_nonce"?/i.test(challenge);
}

class NotebookSession implements Session {
  readonly issuer: string;
  readonly clientId: string;
  readonly #config: ResolvedConfig;
  readonly #store: TokenStore;
  readonly #secrets = new SecretSet();
  #entry: CacheEntry | undefined;
  #renewing: Promise<CacheEntry> | undefined;
  /** Loaded on the first DPoP request (a dynamic import costs ~12 µs even when loaded). */
  #dpopModule: Promise<typeof import("../protocol/dpop.js")> | undefined;

  constructor(config: ResolvedConfig, store: TokenStore) {
    this.#config = { ...config, forceLogin: false };
    this.#store = store;
    this.issuer = config.issuerId ?? config.tokenEndpoint!.origin;
    this.clientId = config.clientId;
  }

  #run<T>(body: Parameters<typeof runCall<T>>[2], reporter?: DeferredReporter): Promise<T> {
    return runCall(this.#config, { secrets: this.#secrets, store: this.#store, reporter }, body);
  }

  /** The first sign-in, shown in the cell like login(); `forceLogin` skips the cache then only. */
  async start(forceLogin: boolean): Promise<void> {
    await this.#run(async (ctx) => {
      const { entry, source } = await obtainTokens(ctx, { skipStored: forceLogin });
      this.#entry = entry;
      ctx.reporter.succeeded(successInfo(entry, source));
    });
  }

  headers(): Promise<AuthHeaders>;
  headers(method: string, url: string | URL): Promise<AuthHeaders | DpopHeaders>;
  async headers(method?: string, url?: string | URL): Promise<AuthHeaders | DpopHeaders> {
    if (!this.#config.dpop) return createAuthHeaders((await this.#current()).accessToken);
    if (typeof method !== "string" || method === "" || (typeof url !== "string" && !(url instanceof URL))) {
      throw new LoginError(
        "INVALID_CONFIG",
        'A DPoP session signs each request: pass its method and URL, `await api.headers("GET", "https://api.example.com/me")`, and use the headers for that one request (or let `api.fetch()` do it).',
      );
    }
    const target = new URL(url);
    const entry = await this.#current();
    const key = await this.#key(entry);
    return createDpopHeaders(entry.accessToken, await key.proof(method, target, entry.accessToken));
  }

  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    if (typeof input !== "string" && !(input instanceof URL)) {
      throw new TypeError("session.fetch() takes a URL string or URL object; build the request from its parts.");
    }
    // undici is loaded on first use: importing it costs more than a warm login (BENCHMARKS.md).
    const { fetch, Headers } = await import("undici");
    const { route } = await import("../protocol/http.js");
    const url = new URL(input);
    type UndiciInit = NonNullable<Parameters<typeof fetch>[1]>;
    // A DPoP proof is for one method and URL: redirects are followed here, a fresh proof per hop.
    const followHere = this.#config.dpop && (init.redirect ?? "follow") === "follow";
    let nonceGiven = false;
    const send = async (entry: CacheEntry): Promise<Awaited<ReturnType<typeof fetch>>> => {
      let target = url;
      let method = (init.method ?? "GET").toUpperCase();
      let body = init.body;
      const headers = new Headers(init.headers as ConstructorParameters<typeof Headers>[0]);
      for (let hop = 0; ; hop++) {
        const { dispatcher } = await route(target, this.#config);
        // As fetch does: the credentials go to the origin asked for, never to another one.
        const credentials = target.origin === url.origin;
        const key = this.#config.dpop && credentials ? await this.#key(entry) : undefined;
        headers.delete("authorization");
        headers.delete("dpop");
        // RFC 9449 §7.1: a bound token goes with the DPoP scheme and a fresh proof for this request.
        if (credentials) headers.set("authorization", `${this.#config.dpop ? "DPoP" : "Bearer"} ${entry.accessToken}`);
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
        if (!followHere || !REDIRECTS.has(response.status) || location === null || hop >= MAX_REDIRECTS) return response;
        // 303, and 301/302 after a POST, become a GET without body (the Fetch standard's rules).
        if (response.status === 303 ? method !== "HEAD" : (response.status === 301 || response.status === 302) && method === "POST") {
          method = "GET";
          body = undefined;
          for (const name of ["content-type", "content-encoding", "content-language", "content-location"]) headers.delete(name);
        } else if (!isReplayable(body)) {
          return response; // a streamed body cannot be sent to the new address
        }
        await response.body?.cancel().catch(() => {});
        target = new URL(location, target);
      }
    };
    const replayable = isReplayable(init.body);
    const entry = await this.#current();
    let response = await send(entry);
    if (response.status === 401 && replayable && nonceGiven && isNonceChallenge(response.headers.get("www-authenticate"))) {
      // use_dpop_nonce: the same token, once more, with the nonce this answer carried.
      await response.body?.cancel().catch(() => {});
      response = await send(entry);
    }
    if (response.status !== 401 || !replayable) return response as unknown as Response;
    await response.body?.cancel().catch(() => {});
    const renewed = await this.#renew(entry.accessToken);
    return (await send(renewed)) as unknown as Response;
  }

  /** The key a DPoP entry's tokens are bound to (imported once). */
  async #key(entry: CacheEntry): Promise<DpopKey> {
    const { importDpopKey } = await (this.#dpopModule ??= import("../protocol/dpop.js"));
    if (!entry.dpopKey)
      throw new LoginError(
        "INVALID_TOKEN_RESPONSE",
        "The saved sign-in has no DPoP key although `dpop: true` was asked for. Sign in again with `forceLogin: true`.",
      );
    // Checked when the entry was read (obtain.ts, which also put its private part in the secrets
    // scrubbed from errors): this import is the one cached there.
    return importDpopKey(entry.dpopKey, { client_id: this.clientId }).catch((cause: unknown) => {
      throw new LoginError("INVALID_TOKEN_RESPONSE", "The sign-in's DPoP key cannot be used. Sign in again with `forceLogin: true`.", { cause });
    });
  }

  async logout(options: { revoke?: boolean } = {}): Promise<LogoutResult> {
    return this.#run(async (ctx) => {
      const { revokeEntry } = await import("./revoke.js");
      const result = await revokeEntry(ctx, options.revoke ?? true);
      this.#entry = undefined;
      return result;
    });
  }

  async #current(): Promise<CacheEntry> {
    const entry = this.#entry;
    if (entry && isFresh(entry)) return entry;
    return this.#renew(undefined);
  }

  /** One renewal at a time; concurrent callers share it. */
  #renew(rejected: string | undefined): Promise<CacheEntry> {
    this.#renewing ??= this.#obtain(rejected).finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  /** Silent unless the browser is needed or something goes wrong. */
  #obtain(rejected: string | undefined): Promise<CacheEntry> {
    return this.#run(
      async (ctx) => {
        const { entry, source } = await obtainTokens(ctx, { rejected });
        this.#entry = entry;
        ctx.reporter.succeeded(successInfo(entry, source));
        return entry;
      },
      new DeferredReporter(() => createReporter(this.#config)),
    );
  }

  [INSPECT](): string {
    return `Session { issuer: '${this.issuer}', clientId: '${this.clientId}'${this.#config.dpop ? ", dpop: true" : ""} }`;
  }

  toJSON(): { issuer: string; clientId: string; dpop?: true } {
    return this.#config.dpop ? { issuer: this.issuer, clientId: this.clientId, dpop: true } : { issuer: this.issuer, clientId: this.clientId };
  }
}
