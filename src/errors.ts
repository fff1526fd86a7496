import { clip } from "./util/text.js";
/**
 * Stable codes carried by {@link LoginError}. Match on `code`, never on the message. What each
 * one means and what to do: README.md, "Errors" (one table, checked against this union by
 * test/architecture.test.ts).
 */
export type LoginErrorCode =
  | "INVALID_CONFIG"
  | "DISCOVERY_FAILED"
  | "REGISTRATION_FAILED"
  | "ISSUER_MISMATCH"
  | "PORT_IN_USE"
  | "LISTENER_FAILED"
  | "TIMEOUT"
  | "ABORTED"
  | "AUTHORIZATION_DENIED"
  | "AUTHORIZATION_REQUEST_REJECTED"
  | "INVALID_AUTHORIZATION_RESPONSE"
  | "TOKEN_REQUEST_FAILED"
  | "INVALID_TOKEN_RESPONSE"
  | "CLOCK_SKEW"
  | "REVOCATION_FAILED"
  | "PROFILE_NOT_FOUND"
  | "INTERACTION_REQUIRED"
  | "STORE_UNAVAILABLE"
  | "INTERNAL_ERROR";

export interface LoginErrorOptions {
  cause?: unknown;
  /** The OAuth `error` value sent by the server, e.g. `access_denied` or `invalid_grant`. */
  error?: string | undefined;
  /** The server's `error_description`, if any. */
  errorDescription?: string | undefined;
  /** HTTP status of the failed response, if any. */
  status?: number | undefined;
}

/**
 * The one error class thrown by tslab-oauth. `code` is stable; `message` says what happened and
 * what to do; `cause` keeps the underlying error (with any secret values replaced by
 * `[redacted]`).
 *
 * @example
 * ```ts
 * try {
 *   await login(config);
 * } catch (err) {
 *   if (err instanceof LoginError && err.code === "AUTHORIZATION_DENIED") console.log(err.error);
 * }
 * ```
 */
export class LoginError extends Error {
  readonly code: LoginErrorCode;
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;
  readonly status: number | undefined;

  constructor(code: LoginErrorCode, message: string, options: LoginErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LoginError";
    this.code = code;
    this.error = options.error;
    this.errorDescription = options.errorDescription;
    this.status = options.status;
  }
}

/**
 * The one ABORTED error: the caller's `signal` or an interrupt stopped the call `when` (a phrase:
 * "during the token refresh"), with what it cut short as `cause`.
 */
/** `work`, or ABORTED (`when`) as soon as `signal` aborts: a caller giving up shared work without stopping it for the others. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, when: string): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(abortedError(when, signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedError(when, signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export function abortedError(when: string, cause?: unknown): LoginError {
  if (cause instanceof LoginError && cause.code === "ABORTED") return cause;
  return new LoginError("ABORTED", `The login was aborted ${when}. Run the cell again to sign in.`, { cause });
}

/**
 * Anything thrown inside the library, as the LoginError that leaves it (the original as `cause`).
 * Once `signal` aborted, whatever the abort cut short (discovery, a request, a lock wait) is
 * ABORTED. Every failure of a server, the network or the disk is given its code where it happens,
 * so anything else is a bug in tslab-oauth: INTERNAL_ERROR, said as such (never blamed on the
 * provider).
 */
export function asLoginError(caught: unknown, signal?: AbortSignal): LoginError {
  if (signal?.aborted)
    return abortedError("before it completed", caught instanceof LoginError && caught.code === "ABORTED" ? caught : (caught ?? signal.reason));
  if (caught instanceof LoginError) return caught;
  const what = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught);
  return new LoginError(
    "INTERNAL_ERROR",
    `tslab-oauth stopped on an error it did not expect (${what}). This is a bug in tslab-oauth, not a problem with your provider or your options: please report it on tslab-oauth's issue tracker with this message and the \`cause\`.`,
    { cause: caught },
  );
}

/**
 * A definite refusal of a refresh: `invalid_grant` (RFC 6749 §5.2), or any 400, 401 or 403, with or
 * without an OAuth body (servers also answer an empty 400, or `invalid_request` "unable to find
 * session"). Transport failures, timeouts, 429 and 5xx are not: the saved sign-in may work later.
 */
export function isRefusal(error: LoginError): boolean {
  return error.error === "invalid_grant" || error.status === 400 || error.status === 401 || error.status === 403;
}

/** The refusal in the server's words, for the cell. */
export function refusalText(error: LoginError): string {
  if (error.error === "invalid_grant") return "invalid_grant: it expired or was revoked";
  const said = error.error ? `, ${clip(error.error, 100)}${error.errorDescription ? `: ${clip(error.errorDescription, 200)}` : ""}` : " without an OAuth error";
  return `HTTP ${error.status}${said}`;
}
