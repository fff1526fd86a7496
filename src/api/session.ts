import { INSPECT } from "../util/inspect.js";
import { DeferredReporter } from "../notebook/reporter.js";
import { createReporter } from "../notebook/create.js";
import type { LoginConfig, ResolvedConfig } from "../options/types.js";
import { SecretSet } from "../secrets.js";
import { isFresh, type CacheEntry } from "../store/cache.js";
import { storeFor, type TokenStore } from "../store/token-store.js";
import { LoginError } from "../errors.js";
import { bearerChallenge, scopeList } from "../protocol/challenge.js";
import { contains } from "../util/urls.js";
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

/** A 401 whose challenge asks for the server's DPoP nonce (RFC 9449 §9). */
function isNonceChallenge(challenge: string | null): boolean {
  return challenge !== null && /\bDPoP\b/i.test(challenge) && /error\s*=\s*"?use_dpop_nonce"?/i.test(challenge);
}

class NotebookSession implements Session {
  #config: ResolvedConfig;
  readonly #store: TokenStore;
  readonly #secrets = new SecretSet();
  #entry: CacheEntry | undefined;
  #renewing: Promise<CacheEntry> | undefined;
  /** Loaded on the first DPoP request (a dynamic import costs ~12 µs even when loaded). */
  #dpopModule: Promise<typeof import("../protocol/dpop.js")> | undefined;

  /** Scopes an `insufficient_scope` answer already led to a sign-in for: asked again, the 403 is returned. */
  readonly #steppedUp = new Set<string>();

  constructor(config: ResolvedConfig, store: TokenStore) {
    this.#config = { ...config, forceLogin: false };
    this.#store = store;
  }

  get issuer(): string {
    return this.#config.issuerId ?? (this.#config.resource ? this.#entry?.metadata.issuer : undefined) ?? this.#config.tokenEndpoint?.origin ?? "";
  }

  get clientId(): string {
    return this.#config.clientId || (this.#entry?.clientId ?? "");
  }

  get resource(): string | undefined {
    return this.#config.resource ? (this.#entry?.resource ?? this.#config.resourceIndicator) : undefined;
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
    const url = new URL(input);
    const resource = this.resource;
    const api = resource === undefined ? undefined : new URL(resource);
    if (api && !contains(api, url)) {
      throw new LoginError(
        "INVALID_CONFIG",
        `${url.origin}${url.pathname} is outside ${api.href}, the API this session signed in to: its token is sent only to URLs within it (nothing was sent). For another API, use another \`session({ resource })\`.`,
      );
    }
    // undici is loaded on first use: importing it costs more than a warm login (BENCHMARKS.md).
    const { sendWithToken, isReplayable } = await import("./session-fetch.js");
    const request = { url, init, config: this.#config, api, key: (entry: CacheEntry) => this.#key(entry) };
    const replayable = isReplayable(init.body);
    const entry = await this.#current();
    let { response, nonceGiven } = await sendWithToken(request, entry);
    if (response.status === 401 && replayable && nonceGiven && isNonceChallenge(response.headers.get("www-authenticate"))) {
      // use_dpop_nonce: the same token, once more, with the nonce this answer carried.
      await response.body?.cancel().catch(() => {});
      ({ response } = await sendWithToken(request, entry));
    }
    if (response.status === 403 && replayable) {
      const asked = this.#stepUpScopes(entry, response.headers.get("www-authenticate"));
      if (!asked) return response as unknown as Response;
      await response.body?.cancel().catch(() => {});
      const stepped = await this.#stepUp(url, asked);
      return (await sendWithToken({ ...request, config: this.#config }, stepped)).response as unknown as Response;
    }
    if (response.status !== 401 || !replayable) return response as unknown as Response;
    await response.body?.cancel().catch(() => {});
    const renewed = await this.#renew(entry.accessToken);
    return (await sendWithToken(request, renewed)).response as unknown as Response;
  }

  /**
   * The scopes a 403 `insufficient_scope` challenge asks for (RFC 6750 §3.1) that this sign-in was
   * not granted, or undefined: no such challenge, nothing new asked, or asked before (no loop).
   */
  #stepUpScopes(entry: CacheEntry, challenge: string | null): string[] | undefined {
    const params = bearerChallenge(challenge);
    if (params?.error !== "insufficient_scope") return undefined;
    const granted = new Set([...scopeList(entry.scope), ...this.#config.scopes]);
    const missing = scopeList(params.scope).filter((scope) => !granted.has(scope));
    if (missing.length === 0 || missing.every((scope) => this.#steppedUp.has(scope))) return undefined;
    return missing;
  }

  /** One new sign-in with the scopes the API asked for added (a refresh cannot widen scope), shown in the cell. */
  async #stepUp(url: URL, missing: string[]): Promise<CacheEntry> {
    for (const scope of missing) this.#steppedUp.add(scope);
    const granted = scopeList(this.#entry?.scope);
    const scopes = [...new Set([...this.#config.scopes, ...granted, ...missing])];
    const previous = this.#config;
    this.#config = { ...previous, scopes };
    const asked = missing.map((scope) => `\`${scope}\``).join(", ");
    try {
      return await this.#run(
        async (ctx) => {
          if (!ctx.config.interactive) {
            throw new LoginError(
              "INTERACTION_REQUIRED",
              `${url.host} asks for ${asked}, which this sign-in was not granted, and interactive sign-in is off: sign in once interactively with those scopes (\`scopes\`), then run again.`,
            );
          }
          ctx.reporter.notice(`${url.host} asks for ${asked}: signing in again with ${missing.length === 1 ? "it" : "them"} added.`);
          const { entry, source } = await obtainTokens(ctx, { skipStored: false });
          this.#entry = entry;
          ctx.reporter.succeeded(successInfo(entry, source));
          return entry;
        },
        new DeferredReporter(() => createReporter(this.#config)),
      );
    } catch (error) {
      this.#config = previous;
      throw error;
    }
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
        const before = this.#entry;
        const { entry, source } = await obtainTokens(ctx, { rejected });
        this.#entry = entry;
        // Another cell or kernel signed in as someone else with the same options: never a silent switch.
        if (before?.sub !== undefined && entry.sub !== undefined && entry.sub !== before.sub) {
          ctx.reporter.notice(
            `This session was signed in as ${before.name ?? before.sub}; the saved sign-in for its options is now ${entry.name ?? entry.sub}'s (a sign-in elsewhere), so it goes on as ${entry.name ?? entry.sub}. For two users at once, give each its own \`profile\`.`,
          );
        }
        ctx.reporter.succeeded(successInfo(entry, source));
        return entry;
      },
      new DeferredReporter(() => createReporter(this.#config)),
    );
  }

  [INSPECT](): string {
    const resource = this.resource ? `, resource: '${this.resource}'` : "";
    return `Session { issuer: '${this.issuer}', clientId: '${this.clientId}'${resource}${this.#config.dpop ? ", dpop: true" : ""} }`;
  }

  toJSON(): { issuer: string; clientId: string; resource?: string; dpop?: true } {
    return {
      issuer: this.issuer,
      clientId: this.clientId,
      ...(this.resource ? { resource: this.resource } : {}),
      ...(this.#config.dpop ? { dpop: true as const } : {}),
    };
  }
}
