import { abortedError, LoginError } from "../errors.js";
import type { LoginReporter } from "../notebook/reporter.js";

/**
 * The one cancellable wait of an interactive sign-in. Its signal aborts when the caller's
 * `signal` aborts or the kernel interrupts the cell (the cell's display is overwritten with the
 * ABORTED line at once, synchronously: tslab ends the cell within a few microtasks, and an update
 * sent later would not reach a notebook saved by nbconvert). Requests made with {@link Wait.signal}
 * stop with it; {@link Wait.race} and {@link Wait.sleep} turn the abort, or a timeout, into this
 * library's own codes. Create it after the sign-in's first `await` (see `watchInterrupt`), and
 * always {@link Wait.dispose} it.
 */
export class Wait {
  readonly #controller = new AbortController();
  readonly #userSignal: AbortSignal | undefined;
  readonly #onUserAbort = (): void => this.#controller.abort(this.#userSignal?.reason);
  readonly #stopInterruptWatch: () => void;

  constructor(options: { signal: AbortSignal | undefined; reporter: LoginReporter; interrupted: () => string }) {
    this.#userSignal = options.signal;
    this.#userSignal?.addEventListener("abort", this.#onUserAbort, { once: true });
    this.#stopInterruptWatch = options.reporter.watchInterrupt(() => {
      const error = new LoginError("ABORTED", options.interrupted());
      options.reporter.failed(error);
      this.#controller.abort(error);
    });
    if (this.#userSignal?.aborted) this.#onUserAbort();
  }

  /** Aborts when the sign-in is cancelled (caller's signal, interrupt). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The ABORTED error for this wait, with what was cut short as `cause`. */
  abortedError(cause?: unknown): LoginError {
    const reason: unknown = this.signal.reason;
    return reason instanceof LoginError && reason.code === "ABORTED" ? reason : abortedError("before it completed", cause ?? reason);
  }

  /**
   * Resolves as `promise` does, unless the sign-in is cancelled first (ABORTED) or `timeout.ms`
   * passes (its error). No timer outlives the race.
   */
  async race<T>(promise: Promise<T>, timeout?: { ms: number; error: () => LoginError }): Promise<T> {
    if (this.signal.aborted) throw this.abortedError();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const ended = new Promise<never>((_, reject) => {
      onAbort = () => reject(this.abortedError());
      this.signal.addEventListener("abort", onAbort, { once: true });
      if (timeout) {
        timer = setTimeout(() => reject(timeout.error()), timeout.ms);
        timer.unref();
      }
    });
    try {
      return await Promise.race([promise, ended]);
    } finally {
      clearTimeout(timer);
      this.signal.removeEventListener("abort", onAbort!);
    }
  }

  /**
   * Resolves true after `ms`, false at once when the sign-in is cancelled. The timer keeps a plain
   * Node process alive while it waits (a polling sign-in has nothing else that does).
   */
  sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.signal.aborted) return resolve(false);
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.signal.removeEventListener("abort", onAbort);
        resolve(true);
      }, ms);
      this.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** A failure that happened because the sign-in was cancelled is reported as ABORTED. */
  explain(error: LoginError): LoginError {
    return this.signal.aborted && error.code !== "ABORTED" ? this.abortedError(error) : error;
  }

  dispose(): void {
    this.#stopInterruptWatch();
    this.#userSignal?.removeEventListener("abort", this.#onUserAbort);
  }
}
