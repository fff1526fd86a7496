import { abortedError, LoginError, untilAborted } from "../errors.js";
import type { CacheFile, Warn } from "./cache.js";
import { isSealedEntry, type CacheEntry, type StoredEntry } from "./entry.js";
import { folderKey, KeychainUnavailable, storeName, type FolderKey } from "./keychain.js";
import { seal, unseal } from "./sealed.js";

/**
 * How the secrets of a folder's sign-ins are written, by the `store` option: sealed with the key
 * the OS secret store holds ("keychain"), in the clear in the owner-only file ("file"), or the
 * first when the secret store works and else the second, said once ("auto").
 */
export interface SecretCodec {
  /** Where a sign-in saved now has its secrets. */
  readonly where: "keychain" | "file";
  /** The sign-in with its secrets, or undefined (with a warning) when they cannot be read. */
  open(key: string, stored: StoredEntry | undefined, warn: Warn): CacheEntry | undefined;
  /** The sign-in as it is to be written, or null when it must not be written (nothing secret may go to the file). */
  close(key: string, entry: CacheEntry, warn: Warn): StoredEntry | null;
  /** Under the folder's lock, before writing: the secret store's key, made when there is none. */
  prepare(signal?: AbortSignal): Promise<void>;
  /** Under the lock, before its release after a removal: the key goes once no sign-in is sealed with it (the last logout). */
  settle(file: CacheFile): Promise<void>;
}

export type StoreMode = "auto" | "keychain" | "file";

/** The folder's secret store, probed once per process: its key (if any yet), or why it cannot be used. */
type Probe = { ok: true; key: FolderKey; value: Buffer | undefined } | { ok: false; reason: string; cause: unknown };
const probes = new Map<string, Promise<Probe>>();
const codecs = new Map<string, SecretCodec>();
const told = new Set<string>();

export async function secretsFor(file: CacheFile, mode: StoreMode, signal?: AbortSignal): Promise<SecretCodec> {
  if (mode === "file") return codec(file, mode, undefined);
  let probe = probes.get(file.dir);
  if (!probe) {
    // Shared by every call on the folder, so no caller's signal ends it (the store's own wait is bounded).
    probe = folderKey(file.dir).then(
      ({ key, value }): Probe => ({ ok: true, key, value }),
      (cause: unknown): Probe => ({ ok: false, reason: cause instanceof KeychainUnavailable ? cause.message : String(cause), cause }),
    );
    probes.set(file.dir, probe);
  }
  const state = await untilAborted(probe, signal, "while opening the secret store");
  if (!state.ok && mode === "keychain") throw unavailable(state.reason, state.cause);
  return codec(file, mode, state);
}

function codec(file: CacheFile, mode: StoreMode, probe: Probe | undefined): SecretCodec {
  const id = `${mode}:${file.dir}`;
  let made = codecs.get(id);
  if (made) return made;
  /** Why the secret store is not used (auto: then the file), or undefined when it is. */
  let fallback = mode === "file" ? '`store: "file"`' : probe && !probe.ok ? probe.reason : undefined;
  const state = probe?.ok ? probe : undefined;
  const retried = new Set<string>();
  const plain = (entry: CacheEntry): CacheEntry => {
    const { secrets: _secrets, ...rest } = entry;
    return rest;
  };
  made = {
    get where() {
      return fallback === undefined ? "keychain" : "file";
    },
    open(key, stored, warn) {
      if (!stored || !isSealedEntry(stored)) return stored;
      if (!state) {
        once(
          warn,
          `closed:${id}`,
          `A saved sign-in has its secrets in ${storeName()}, which ${mode === "file" ? '`store: "file"` does not read' : `cannot be used here: ${fallback}`}; signing in again.`,
        );
        return undefined;
      }
      let opened = state.value && unseal(stored, state.value, key);
      if (!opened && !retried.has(stored.sealed)) {
        // Sealed by another process with a key made (or remade) since this one read it: read it again, once per value.
        retried.add(stored.sealed);
        const now = state.key.readNow();
        if (now) opened = unseal(stored, (state.value = now), key);
      }
      if (!opened)
        once(
          warn,
          `lost:${id}:${key}`,
          `The secrets of a saved sign-in are gone from ${storeName()} (its item "${state.key.account}" of service tslab-oauth is missing or was replaced); signing in again.`,
        );
      return opened;
    },
    close(key, entry, warn) {
      if (fallback !== undefined || !state) {
        if (mode === "auto") once(warn, `told:${file.dir}`, fileNotice(file, fallback ?? ""));
        return plain(entry);
      }
      if (!state.value) {
        warn(`The sign-in was not saved: ${storeName()} has no key for it yet (the lock on ${file.dir} could not be taken). Nothing secret was written.`);
        return null;
      }
      return seal(entry, state.value, key);
    },
    async prepare(signal) {
      if (!state || fallback !== undefined) return;
      try {
        state.value = await state.key.ensure(signal);
      } catch (cause) {
        if (signal?.aborted) throw abortedError("while opening the secret store", cause);
        const reason = cause instanceof KeychainUnavailable ? cause.message : String(cause);
        if (mode === "keychain") throw unavailable(reason, cause);
        fallback = reason;
      }
    },
    async settle(cache) {
      if (!state?.value) return;
      let unread = false;
      // Only a file read whole proves that no sign-in is sealed with the key any more.
      if (cache.keyed(() => (unread = true)).some(([, stored]) => isSealedEntry(stored)) || unread) return;
      await state.key.remove().catch(() => {}); // a key left behind opens nothing: no sign-in is sealed with it
      state.value = undefined;
    },
  };
  codecs.set(id, made);
  return made;
}

function once(warn: Warn, id: string, message: string): void {
  if (told.has(id)) return;
  told.add(id);
  warn(message);
}

function fileNotice(file: CacheFile, reason: string): string {
  return (
    `Your tokens are kept in ${file.path}, readable by you only, because ${storeName()} cannot be used here: ${reason}. ` +
    `To keep them there without this notice, set \`store: "file"\` (or TSLAB_OAUTH_STORE=file); docs/saved-sign-in.md says how to use a secret store instead.`
  );
}

function unavailable(reason: string, cause: unknown): LoginError {
  return new LoginError(
    "STORE_UNAVAILABLE",
    `\`store: "keychain"\` needs ${storeName()}, and it cannot be used here: ${reason}. Nothing secret was saved. Start or unlock it, or use \`store: "auto"\` (the default), which keeps the tokens in an owner-only file when it is missing.`,
    { cause },
  );
}
