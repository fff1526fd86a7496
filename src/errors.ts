/**
 * Stable codes carried by {@link LoginError}. Match on `code`, never on the message. What each
 * one means and what to do: README.md, "Errors" (one table, checked against this union by
 * test/architecture.test.ts).
 */
export type LoginErrorCode =
  | "INVALID_CONFIG"
  | "DISCOVERY_FAILED"
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
  | "REVOCATION_FAILED"
  | "PROFILE_NOT_FOUND"
  | "INTERACTION_REQUIRED";

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

/** Anything thrown inside the library, as the LoginError that leaves it (the original as `cause`). */
export function asLoginError(caught: unknown): LoginError {
  if (caught instanceof LoginError) return caught;
  const message = caught instanceof Error ? caught.message : typeof caught === "string" ? caught : "An unexpected error occurred";
  return new LoginError("TOKEN_REQUEST_FAILED", message, { cause: caught });
}
