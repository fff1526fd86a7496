import type { LoginError } from "../errors.js";

/**
 * Where a login tells the user what is going on. The terminal (./terminal.ts) prints the sign-in
 * link once to stderr; in a notebook (./cell.ts) one display entry is kept up to date and
 * overwritten at the end. Nothing here ever receives a secret.
 */
export interface LoginReporter {
  /** Something is under way that may take a moment (a token refresh). */
  progress(message: string): void;
  /** The sign-in page is ready; `deadline` is epoch ms. */
  waiting(info: WaitingInfo): void;
  /** The device grant (RFC 8628) waits for the user to enter `userCode`; `deadline` is epoch ms. */
  waitingForCode(info: DeviceCodeInfo): void;
  /**
   * The two-cell flow: the link is ready; the user signs in, then pastes the address the browser
   * ended on into `pending.complete(...)` in another cell. No timer: the cell has ended.
   */
  waitingForPaste(info: PasteInfo): void;
  /** Something the user may want to know while waiting. */
  event(message: string): void;
  /** The browser was opened (or the caller's function took the link), or opening it failed. */
  browser(state: "opened" | "failed"): void;
  /** Something the user must know even in a terminal (why a browser opens again). */
  notice(message: string): void;
  /** A problem that did not stop the login (the cache could not be read or written). */
  warn(message: string): void;
  succeeded(info: SuccessInfo): void;
  /** What logout() did. */
  signedOut(message: string): void;
  failed(error: LoginError): void;
  /** Resolves once everything shown so far has reached the kernel; awaited before a call returns. */
  flush(): Promise<void>;
  /** Releases timers; called once, after succeeded/failed. */
  dispose(): void;
  /** Calls `callback` when the user interrupts (a kernel interrupt); returns the unsubscribe. */
  watchInterrupt(callback: () => void): () => void;
}

export interface PasteInfo {
  issuer: string;
  url: string;
  deadline: number;
  redirectUri: string;
  /** The address is asked for in this cell (a kernel with stdin), not passed to `pending.complete()`. */
  prompted?: boolean;
  /** Epoch ms after which the link no longer opens the sign-in page (a pushed request's lifetime). */
  linkExpiresAt?: number | undefined;
}

export interface WaitingInfo {
  issuer: string;
  url: string;
  deadline: number;
  openBrowser: boolean;
  /** What to do if the provider's page shows an error about the redirect URI (it never tells us). */
  redirectHint?: string | undefined;
}

export interface DeviceCodeInfo {
  issuer: string;
  verificationUri: string;
  verificationUriComplete: string | undefined;
  userCode: string;
  deadline: number;
}

/** Where the tokens came from: the cache as is, a silent refresh, or the browser. */
export type TokenSource = "cache" | "refresh" | "sign-in";

export interface SuccessInfo {
  issuer: string;
  name: string | undefined;
  expiresAt: number | undefined;
  source: TokenSource;
}

/**
 * Shows nothing until there is something to show: a session's background refreshes stay silent,
 * but a refresh that turns into a browser sign-in (or fails) gets a display like a login.
 */
export class DeferredReporter implements LoginReporter {
  readonly #create: () => LoginReporter;
  #inner: LoginReporter | undefined;

  constructor(create: () => LoginReporter) {
    this.#create = create;
  }

  get #reporter(): LoginReporter {
    this.#inner ??= this.#create();
    return this.#inner;
  }

  progress(): void {}
  waiting(info: WaitingInfo): void {
    this.#reporter.waiting(info);
  }
  waitingForCode(info: DeviceCodeInfo): void {
    this.#reporter.waitingForCode(info);
  }
  waitingForPaste(info: Parameters<LoginReporter["waitingForPaste"]>[0]): void {
    this.#reporter.waitingForPaste(info);
  }
  event(message: string): void {
    this.#inner?.event(message);
  }
  browser(state: "opened" | "failed"): void {
    this.#inner?.browser(state);
  }
  notice(message: string): void {
    this.#reporter.notice(message);
  }
  warn(message: string): void {
    this.#reporter.warn(message);
  }
  succeeded(info: SuccessInfo): void {
    this.#inner?.succeeded(info);
  }
  signedOut(message: string): void {
    this.#reporter.signedOut(message);
  }
  failed(error: LoginError): void {
    this.#reporter.failed(error);
  }
  flush(): Promise<void> {
    return this.#inner?.flush() ?? Promise.resolve();
  }
  dispose(): void {
    this.#inner?.dispose();
  }
  watchInterrupt(callback: () => void): () => void {
    return this.#reporter.watchInterrupt(callback);
  }
}
