/**
 * Stable codes carried by {@link LoginError}. Match on `code`, never on the message.
 *
 * | code | when |
 * | --- | --- |
 * | `INVALID_CONFIG` | an option of `login()` is missing or malformed |
 * | `DISCOVERY_FAILED` | the issuer's metadata could not be fetched or read |
 * | `ISSUER_MISMATCH` | the server says it is another issuer (discovery or RFC 9207 `iss`) |
 * | `PORT_IN_USE` | the fixed port of `redirectUri` is taken |
 * | `LISTENER_FAILED` | the loopback listener could not start for another reason |
 * | `TIMEOUT` | no sign-in arrived within `timeout` seconds |
 * | `ABORTED` | `signal` was aborted (or the cell interrupted) |
 * | `AUTHORIZATION_DENIED` | the server redirected back with an `error` |
 * | `INVALID_AUTHORIZATION_RESPONSE` | the redirect back had no usable `code` |
 * | `TOKEN_REQUEST_FAILED` | the token endpoint refused, failed or did not answer |
 * | `INVALID_TOKEN_RESPONSE` | the token response or its ID token did not validate |
 * | `REVOCATION_FAILED` | logout() could not revoke the refresh token; nothing was removed |
 * | `PROFILE_NOT_FOUND` | `profile` names settings that exist nowhere on this machine |
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
  | "INVALID_AUTHORIZATION_RESPONSE"
  | "TOKEN_REQUEST_FAILED"
  | "INVALID_TOKEN_RESPONSE"
  | "REVOCATION_FAILED"
  | "PROFILE_NOT_FOUND";

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
