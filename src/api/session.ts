import { inspect } from "node:util";
import type { RequestInit, Response } from "undici";
import { obtainTokens, type TokenStore } from "./obtain.js";
import { cacheKey, isFresh, type CacheEntry } from "../store/cache.js";
import type { LoginConfig, ResolvedConfig } from "../options/config.js";
import { createAuthHeaders, type AuthHeaders } from "./headers.js";
import { reportFailure, resolveOrReport, storeFor } from "./login.js";
import { revokeEntry, type LogoutResult } from "./logout.js";
import { createReporter } from "../notebook/create.js";
import { DeferredReporter, type LoginReporter } from "../notebook/reporter.js";
import { SecretSet } from "../secrets.js";

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
  const created = new Session(resolved, await storeFor(resolved));
  await created.start(resolved.forceLogin);
  return created;
}

/** Replaying a body is possible only when it is not a one-shot stream. */
function isReplayable(body: RequestInit["body"]): boolean {
  if (body === undefined || body === null || typeof body === "string") return true;
  if (body instanceof URLSearchParams || body instanceof ArrayBuffer || ArrayBuffer.isView(body) || body instanceof Blob) return true;
  return (body as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === "FormData";
}

export class Session {
  /** The issuer (or token endpoint's origin) this session signs in to. */
  readonly issuer: string;
  readonly clientId: string;
  readonly #config: ResolvedConfig;
  readonly #store: TokenStore;
  readonly #key: string;
  readonly #secrets = new SecretSet();
  #entry: CacheEntry | undefined;
  #renewing: Promise<CacheEntry> | undefined;

  /** @internal use {@link session}. */
  constructor(config: ResolvedConfig, store: TokenStore) {
    this.#config = { ...config, forceLogin: false };
    this.#store = store;
    this.#key = cacheKey(config);
    this.issuer = config.issuerId ?? config.tokenEndpoint!.origin;
    this.clientId = config.clientId;
    this.#secrets.add(config.clientSecret);
  }

  /** @internal The first sign-in, shown in the cell like login(); `forceLogin` skips the cache then only. */
  async start(forceLogin: boolean): Promise<void> {
    const reporter = createReporter(this.#config);
    try {
      const { entry, source } = await obtainTokens(this.#config, this.#store, this.#key, reporter, this.#secrets, { skipStored: forceLogin });
      this.#entry = entry;
      reporter.succeeded({ issuer: entry.metadata.issuer, name: entry.name, expiresAt: entry.expiresAt, source });
    } catch (caught) {
      throw reportFailure(caught, reporter, this.#secrets);
    } finally {
      reporter.dispose();
    }
  }

  /** Valid headers: the current token, refreshed first when it is within its expiry margin. */
  async headers(): Promise<AuthHeaders> {
    return createAuthHeaders((await this.#current()).accessToken);
  }

  /**
   * undici's `fetch` with the `Authorization` header set. On a 401 answer, the token is renewed
   * once and the request sent again, if its body can be sent twice (none, a string, bytes,
   * URLSearchParams, Blob, FormData); a streamed body's 401 is returned as is.
   */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    if (typeof input !== "string" && !(input instanceof URL)) {
      throw new TypeError("session.fetch() takes a URL string or URL object; build the request from its parts.");
    }
    // undici is loaded on first use: importing it costs more than a warm login (BENCHMARKS.md).
    const { fetch, Headers } = await import("undici");
    const withBearer = (accessToken: string): RequestInit => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${accessToken}`);
      return { ...init, headers };
    };
    const entry = await this.#current();
    const response = await fetch(input, withBearer(entry.accessToken));
    if (response.status !== 401 || !isReplayable(init.body)) return response;
    await response.body?.cancel().catch(() => {});
    const renewed = await this.#renew(entry.accessToken);
    return fetch(input, withBearer(renewed.accessToken));
  }

  /** Signs out: see {@link logout}. The session cannot be used afterwards without signing in again. */
  async logout(options: { revoke?: boolean } = {}): Promise<LogoutResult> {
    const reporter = createReporter(this.#config);
    try {
      const result = await revokeEntry(this.#config, this.#store, this.#key, reporter, this.#secrets, options.revoke ?? true);
      this.#entry = undefined;
      return result;
    } catch (caught) {
      throw reportFailure(caught, reporter, this.#secrets);
    } finally {
      reporter.dispose();
    }
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

  async #obtain(rejected: string | undefined): Promise<CacheEntry> {
    // Silent unless the browser is needed or something goes wrong.
    const reporter: LoginReporter = new DeferredReporter(() => createReporter(this.#config));
    try {
      const { entry, source } = await obtainTokens(this.#config, this.#store, this.#key, reporter, this.#secrets, { rejected });
      this.#entry = entry;
      reporter.succeeded({ issuer: entry.metadata.issuer, name: entry.name, expiresAt: entry.expiresAt, source });
      return entry;
    } catch (caught) {
      throw reportFailure(caught, reporter, this.#secrets);
    } finally {
      reporter.dispose();
    }
  }

  [inspect.custom](): string {
    return `Session { issuer: '${this.issuer}', clientId: '${this.clientId}' }`;
  }

  toJSON(): { issuer: string; clientId: string } {
    return { issuer: this.issuer, clientId: this.clientId };
  }
}
