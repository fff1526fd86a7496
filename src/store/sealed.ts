import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { parseEntry, type CacheEntry, type SealedEntry } from "./entry.js";

/**
 * A saved sign-in whose secrets (access token, refresh token, DPoP private key) are sealed with
 * the folder's key from the secret store (./keychain.ts): AES-256-GCM, a fresh 96-bit nonce per
 * write, the entry's cache key as associated data (a sealed value moved to another entry does not
 * open). The file keeps what is not secret in the clear (issuer, client, scopes, expiry, user),
 * and `secrets: "keychain"` says where the rest is.
 */

const VERSION = "v1";

/** The entry as it is written: its secrets sealed, none in the clear. */
export function seal(entry: CacheEntry, key: Buffer, cacheKey: string): SealedEntry {
  const { accessToken, refreshToken, dpopKey, secrets: _secrets, ...rest } = entry;
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(cacheKey));
  const plain = Buffer.from(JSON.stringify({ a: accessToken, r: refreshToken, k: dpopKey }));
  const sealed = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return {
    ...rest,
    secrets: "keychain",
    refreshable: refreshToken !== undefined,
    sealed: `${VERSION}.${nonce.toString("base64url")}.${sealed.toString("base64url")}`,
  };
}

/** The entry with its secrets, or undefined when the key does not open it (another key, a damaged value). */
export function unseal(value: SealedEntry, key: Buffer, cacheKey: string): CacheEntry | undefined {
  const [version, nonce, body] = value.sealed.split(".");
  if (version !== VERSION || !nonce || !body) return undefined;
  try {
    const bytes = Buffer.from(body, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(nonce, "base64url"));
    decipher.setAAD(Buffer.from(cacheKey));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const plain = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]);
    const { a, r, k } = JSON.parse(plain.toString("utf8")) as { a?: unknown; r?: unknown; k?: unknown };
    const { sealed: _sealed, secrets: _secrets, refreshable: _refreshable, ...rest } = value;
    const entry = parseEntry({ ...rest, accessToken: a, refreshToken: r, dpopKey: k });
    return entry && !("sealed" in entry) ? { ...entry, secrets: "keychain" } : undefined;
  } catch {
    return undefined;
  }
}
