import { createHash } from "node:crypto";
import { readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { ResolvedConfig } from "../options/types.js";
import { parseEntry, type CacheEntry, type StoredEntry } from "./entry.js";
import { defaultConfigDir, ensureOwnerDir, isSymlink, loadWriter, ownerJsonFile, tightenFileMode, type JsonFile } from "./files.js";

/**
 * The token cache: one JSON file, `tokens.json`, written with conf (atomic rename, mode 0600) in a
 * directory of mode 0700, by default the user's config directory, never the notebook's folder.
 * Each entry is keyed by who issues the token and what it is for (see {@link cacheKey}), and
 * holds what a later login needs without any network: the tokens, their expiry, the user's `sub`
 * and display name, and the server's metadata.
 *
 * Reads go to the file every time (another kernel may have written it); writes are read-modify-write
 * under {@link CacheFile.lock}. A damaged file is ignored with a warning, moved aside before the next write.
 */
export type { CacheEntry, SealedEntry, StoredEntry } from "./entry.js";

const CACHE_FILE = "tokens.json";
const LOCK_FILE = "tokens.lock";
/** Authorization request parameters that change the sign-in page, not the token: left out of the key. */
const UI_ONLY_PARAMS = new Set([
  "prompt",
  "login_hint",
  "display",
  "ui_locales",
  "max_age",
  "response_mode",
  "access_type",
  "include_granted_scopes",
  "domain_hint",
]);

/** The entry's identity: issuer (or token endpoint), client, sorted scopes, token-changing params, profile. */
export function cacheKey(config: ResolvedConfig): string {
  const params = Object.entries(config.extraParams)
    .filter(([key]) => !UI_ONLY_PARAMS.has(key))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const identity: unknown[] = [
    1,
    config.issuerId ?? config.tokenEndpoint?.href ?? "",
    config.clientId,
    [...config.scopes].sort(),
    params,
    config.profile ?? null,
  ];
  // Signed in by the API's URL: the API is who it is for (its server and client are found from it).
  if (config.resource) identity.push("resource", config.resource.href);
  // A service account's token is never a person's sign-in (earlier keys stay as they were).
  if (config.grant === "client_credentials") identity.push("client_credentials");
  // A DPoP-bound sign-in is never handed out as a Bearer one, nor the other way round.
  if (config.dpop) identity.push("dpop");
  return createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 32);
}

/** How long before `expiresAt` a token counts as expired: 60 s, or a tenth of its lifetime if shorter. */
function expiryMargin(entry: Pick<CacheEntry, "expiresAt" | "obtainedAt">): number {
  if (entry.expiresAt === undefined) return 0;
  return Math.min(60_000, Math.max(0, (entry.expiresAt - entry.obtainedAt) / 10));
}

/** True when the access token can be used now: no expiry given, or not within the margin of it. */
export function isFresh(entry: Pick<CacheEntry, "expiresAt" | "obtainedAt">, now = Date.now()): boolean {
  return entry.expiresAt === undefined || entry.expiresAt - expiryMargin(entry) > now;
}

export type Warn = (message: string) => void;

type Store = JsonFile<Record<string, unknown>>;
const caches = new Map<string, CacheFile>();

/**
 * The cache in `dir` (or the default directory), created on first use. Reading needs nothing but
 * the file (a warm login stays cheap); conf, which writes it, is loaded before the first write.
 */
export async function openCacheFile(dir: string | undefined): Promise<CacheFile> {
  const resolved = dir ?? defaultConfigDir();
  let cache = caches.get(resolved);
  if (!cache) {
    cache = new CacheFile(resolved, dir === undefined);
    caches.set(resolved, cache);
  }
  return cache;
}

export class CacheFile {
  readonly dir: string;
  readonly path: string;
  readonly #ownsDir: boolean;
  #store: Store | undefined;
  #modeChecked = false;

  constructor(dir: string, ownsDir: boolean) {
    this.dir = dir;
    this.path = join(dir, CACHE_FILE);
    this.#ownsDir = ownsDir;
  }

  /** The entry, or undefined when absent, malformed, or the file cannot be read (with a warning). */
  read(key: string, warn: Warn): StoredEntry | undefined {
    let value: unknown;
    try {
      value = this.#readAll()[key];
    } catch (error) {
      warnOnce(warn, `read:${this.path}`, this.#unreadable(error));
      return undefined;
    }
    if (value === undefined) return undefined;
    const entry = parseEntry(value);
    if (!entry) warnOnce(warn, `entry:${this.path}:${key}`, `A cached sign-in in ${this.path} has an unexpected shape; it is ignored and will be replaced.`);
    return entry;
  }

  /** Every well-formed entry (for listing; the tokens stay inside), or none when the file cannot be read. */
  entries(warn: Warn): StoredEntry[] {
    return this.keyed(warn).map(([, entry]) => entry);
  }

  /** Every well-formed entry with its key, or none when the file cannot be read. */
  keyed(warn: Warn): [string, StoredEntry][] {
    try {
      return Object.entries(this.#readAll()).flatMap(([key, value]) => {
        const entry = parseEntry(value);
        return entry ? [[key, entry] as [string, StoredEntry]] : [];
      });
    } catch (error) {
      warn(this.#unreadable(error));
      return [];
    }
  }

  /** Saves (or with `undefined`, removes) an entry. Never throws: returns false after warning. */
  write(key: string, entry: StoredEntry | undefined, warn: Warn): boolean {
    try {
      this.#ensureDir();
      if (isSymlink(this.path)) {
        throw new Error("it is a symbolic link, and the cache is never written through a link: replace it with a plain file");
      }
      // conf reads the whole file before it writes it back: a damaged file throws there, untouched.
      const save = (): void => {
        const store = this.#open();
        if (entry) store.set(key, entry);
        else store.delete(key);
      };
      try {
        save();
      } catch (error) {
        if (!isCorrupt(error)) throw error;
        const aside = this.#quarantine();
        warn(`The token cache ${this.path} was not valid JSON; it was moved to ${aside} and a new one started.`);
        save();
      }
      return true;
    } catch (error) {
      warn(
        `Could not save the sign-in to ${this.path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); the next login will ask again. Check that directory, or set \`cacheDir\`.`,
      );
      return false;
    }
  }

  /** Serialises refreshes and writes across processes; see ./lock.ts. */
  async lock(options: { staleMs: number; signal?: AbortSignal | undefined }): Promise<() => void> {
    // Every write happens under the lock (or after failing to take it): load the writer now.
    await loadWriter();
    this.#ensureDir();
    const { acquireLock } = await import("./lock.js");
    return acquireLock(join(this.dir, LOCK_FILE), options);
  }

  /** The whole file, read the way conf reads it (a missing file is empty; bad JSON throws). */
  #readAll(): Record<string, unknown> {
    this.#checkMode();
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw error;
    }
    const data: unknown = JSON.parse(text);
    return data !== null && typeof data === "object" ? (data as Record<string, unknown>) : {};
  }

  #open(): Store {
    if (!this.#store) {
      this.#ensureDir();
      this.#store = ownerJsonFile(this.dir, CACHE_FILE.replace(/\.json$/, ""));
    }
    this.#checkMode();
    return this.#store;
  }

  #checkMode(): void {
    if (this.#modeChecked) return;
    this.#modeChecked = true;
    tightenFileMode(this.path);
  }

  #ensureDir(): void {
    ensureOwnerDir(this.dir, this.#ownsDir);
  }

  #quarantine(): string {
    const aside = `${this.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    renameSync(this.path, aside);
    this.#modeChecked = false;
    return aside;
  }

  #unreadable(error: unknown): string {
    if (isCorrupt(error)) {
      return `The token cache ${this.path} is not valid JSON: it is ignored for now and moved aside (kept) at the next sign-in.`;
    }
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return `Could not read the token cache ${this.path} (${code}); signing in without it. Check that file, or set \`cacheDir\`.`;
  }
}

const warned = new Set<string>();
function warnOnce(warn: Warn, key: string, message: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  warn(message);
}

function isCorrupt(error: unknown): boolean {
  return error instanceof SyntaxError;
}
