/**
 * Keeps secrets out of errors. Dependencies attach what they saw to their errors (oauth4webapi puts
 * the whole token response body, or the callback parameters with the code, in `cause`), so every
 * error leaving `login()` is scrubbed: known secret values are replaced wherever they appear, and
 * fields whose name says "secret" are replaced whatever their value.
 */

const REDACTED = "[redacted]";
const SECRET_KEYS = new Set([
  "access_token",
  "refresh_token",
  "id_token",
  "code",
  "code_verifier",
  "client_secret",
  "state",
  "nonce",
  "device_code",
  "authorization",
  "accessToken",
  "refreshToken",
  "idToken",
]);
const MAX_DEPTH = 8;

export class SecretSet {
  readonly #values = new Set<string>();

  add(value: string | undefined): void {
    // Very short values would redact ordinary words; real secrets are long.
    if (typeof value === "string" && value.length >= 8) this.#values.add(value);
  }

  redactString(text: string): string {
    let out = text;
    for (const secret of this.#values) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    return out;
  }

  /** Scrubs an error (and its cause chain) in place, and returns it. */
  scrubError<T>(error: T): T {
    scrub(error, this, 0, new WeakSet());
    return error;
  }
}

function scrubValue(value: unknown, secrets: SecretSet, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === "string") return secrets.redactString(value);
  if (value === null || typeof value !== "object") return value;
  if (value instanceof URLSearchParams) {
    const copy = new URLSearchParams();
    for (const [key, entry] of value) copy.append(key, SECRET_KEYS.has(key) ? REDACTED : secrets.redactString(entry));
    return copy;
  }
  if (value instanceof URL) {
    const copy = new URL(value.href);
    copy.search = String(scrubValue(value.searchParams, secrets, depth, seen));
    return copy;
  }
  scrub(value, secrets, depth + 1, seen);
  return value;
}

function scrub(target: unknown, secrets: SecretSet, depth: number, seen: WeakSet<object>): void {
  if (target === null || typeof target !== "object" || depth > MAX_DEPTH || seen.has(target)) return;
  seen.add(target);
  // Responses, streams and other host objects carry no secret we could reach without consuming
  // them; leave them alone.
  const proto = Object.getPrototypeOf(target);
  const plain = proto === Object.prototype || proto === null || Array.isArray(target) || target instanceof Error;
  if (!plain) return;
  const record = target as Record<string | symbol, unknown>;
  const keys = Object.getOwnPropertyNames(target);
  if (target instanceof Error && !keys.includes("cause") && "cause" in target) keys.push("cause");
  for (const key of keys) {
    const descriptor = Object.getOwnPropertyDescriptor(target, key);
    if (descriptor && !("value" in descriptor)) continue;
    const value = record[key];
    let next: unknown;
    // On errors, `code` is an error code, not an authorization code.
    if (SECRET_KEYS.has(key) && typeof value === "string" && !(target instanceof Error)) next = REDACTED;
    else next = scrubValue(value, secrets, depth, seen);
    if (next !== value) {
      try {
        Object.defineProperty(target, key, { value: next, writable: true, configurable: true, enumerable: descriptor?.enumerable ?? true });
      } catch {
        // A frozen object from a dependency: nothing we can do, and nothing we created.
      }
    }
  }
}
