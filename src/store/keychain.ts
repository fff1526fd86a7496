import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * The operating system's secret store (macOS Keychain, Windows Credential Manager, the Secret
 * Service on Linux) through @napi-rs/keyring, loaded on first use. It holds one small item per
 * token folder: the 256-bit key that seals the folder's secrets (./sealed.ts). A key, not the
 * tokens themselves: an item stays 43 characters whatever the provider's tokens weigh (the macOS
 * keychain refuses large items, kubelogin#1255; Windows' credentials hold 2560 bytes), a refresh
 * that rotates a token writes only the file, under the lock that already orders writes, and the
 * two can never disagree after a kill between them.
 *
 * On Linux the Secret Service is required: left to itself the binding falls back to the kernel
 * keyring, which forgets everything at reboot.
 */

const SERVICE = "tslab-oauth";
/** A secret store that asks the person to unlock it waits at most this long. */
const WAIT_MS = 60_000;

type Binding = typeof import("@napi-rs/keyring");
let binding: Promise<Binding> | undefined;

/** Where the secrets go on this platform, in words a person knows. */
export function storeName(platform: NodeJS.Platform = process.platform): string {
  if (platform === "darwin") return "the macOS Keychain";
  if (platform === "win32") return "Windows Credential Manager";
  return "the Secret Service (GNOME Keyring, KWallet)";
}

export interface FolderKey {
  /** The key as it is in the store now, or undefined when there is none yet. */
  read(signal?: AbortSignal): Promise<Buffer | undefined>;
  /** The key in the store, made and saved first when there is none. Called under the folder's lock. */
  ensure(signal?: AbortSignal): Promise<Buffer>;
  /**
   * The key as it is in the store now, read synchronously (undefined when it cannot be read): for a
   * sign-in sealed by another process with a key made after this one looked (rare; a few ms).
   */
  readNow(): Buffer | undefined;
  /** Removes the key (the last sealed sign-in of the folder is gone). */
  remove(signal?: AbortSignal): Promise<void>;
  /** The item's name in the store, for messages and `status`. */
  readonly account: string;
}

/** Why the secret store cannot be used here, as a sentence ending without a period. */
export class KeychainUnavailable extends Error {}

/**
 * The folder's key in the secret store; rejects with {@link KeychainUnavailable} when the store
 * cannot be used (no binding for this platform, no D-Bus session, a locked or refused store).
 */
export async function folderKey(dir: string): Promise<{ key: FolderKey; value: Buffer | undefined }> {
  // No session bus where libdbus would look for one (the variable, else $XDG_RUNTIME_DIR/bus): said
  // without loading the binding (12-23 ms of a kernel's first call, on every server and container).
  if (process.platform === "linux" && !hasSessionBus(process.env)) throw new KeychainUnavailable(NO_SESSION);
  const { AsyncEntry, Entry } = await loadBinding();
  const account = `tokens:${createHash("sha256").update(resolve(dir)).digest("hex").slice(0, 16)}`;
  const pinned = { linux: { store: "secret-service" } } as const;
  const call = async <T>(what: string, run: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> => {
    const limit = AbortSignal.timeout(WAIT_MS);
    try {
      return await run(outer ? AbortSignal.any([outer, limit]) : limit);
    } catch (cause) {
      throw new KeychainUnavailable(explain(cause) ?? `${clean(cause)} (while trying to ${what})`, { cause });
    }
  };
  // The constructor already looks for the store (and throws when there is no D-Bus session).
  const entry = await call("open it", async () => new AsyncEntry(SERVICE, account, pinned));
  const key: FolderKey = {
    account,
    read: (s) => call("read its key", (signal) => entry.getPassword(signal), s).then((text) => decode(text ?? null)),
    readNow() {
      try {
        return decode(new Entry(SERVICE, account, pinned).getPassword());
      } catch {
        return undefined;
      }
    },
    async ensure(s) {
      const existing = await key.read(s);
      if (existing) return existing;
      const made = randomBytes(32);
      await call("save a key", (signal) => entry.setPassword(made.toString("base64url"), signal), s);
      return made;
    },
    remove: (s) => call("remove a key", (signal) => entry.deleteCredential(signal), s).then(() => undefined),
  };
  return { key, value: await key.read() };
}

/** A stored key, or undefined when there is none or it is not one of ours (a damaged item: a new key replaces it). */
function decode(text: string | null): Buffer | undefined {
  if (text === null) return undefined;
  const bytes = Buffer.from(text, "base64url");
  return bytes.length === 32 ? bytes : undefined;
}

function loadBinding(): Promise<Binding> {
  binding ??= import("@napi-rs/keyring").catch((cause: unknown) => {
    binding = undefined;
    throw new KeychainUnavailable(`its binding, the optional package @napi-rs/keyring, could not be loaded (${clean(cause)}): npm install @napi-rs/keyring`, {
      cause,
    });
  });
  return binding;
}

const NO_SESSION = "no D-Bus session is running (DBUS_SESSION_BUS_ADDRESS is not set), as on most servers and in containers";

function hasSessionBus(env: NodeJS.ProcessEnv): boolean {
  if (env.DBUS_SESSION_BUS_ADDRESS) return true;
  return env.XDG_RUNTIME_DIR !== undefined && env.XDG_RUNTIME_DIR !== "" && existsSync(join(env.XDG_RUNTIME_DIR, "bus"));
}

/** What stopped the secret store, in words a person knows, for the common cases (the binding's own words stay in `cause`). */
function explain(cause: unknown): string | undefined {
  const text = clean(cause);
  if (/DBUS_SESSION_BUS_ADDRESS|dbus-daemon autolaunch|Failed to connect to socket/i.test(text)) return NO_SESSION;
  if (/org\.freedesktop\.secrets|ServiceUnknown|was not provided by any \.service/i.test(text))
    return "no Secret Service answers on the D-Bus session (GNOME Keyring or KWallet is not running)";
  if (/prompt was dismissed|is locked/i.test(text)) return "it is locked, and was not unlocked";
  return undefined;
}

/** The binding's message, on one line and short (D-Bus errors run long). */
function clean(error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}
