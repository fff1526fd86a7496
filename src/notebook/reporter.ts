import type { LoginError } from "../errors.js";

/**
 * Where a login tells the user what is going on. The terminal prints the sign-in link once to
 * stderr; the notebook (./tslab.ts, the only module that talks to tslab) keeps one display
 * entry up to date and overwrites it at the end. Nothing here ever receives a secret.
 */
export interface LoginReporter {
  /** Something is under way that may take a moment (a token refresh). */
  progress(message: string): void;
  /** The sign-in page is ready; `deadline` is epoch ms. */
  waiting(info: { issuer: string; url: string; deadline: number; openBrowser: boolean }): void;
  /** The device grant (RFC 8628) waits for the user to enter `userCode`; `deadline` is epoch ms. */
  waitingForCode(info: DeviceCodeInfo): void;
  /**
   * The two-cell flow: the link is ready; the user signs in, then pastes the address the browser
   * ended on into `pending.complete(...)` in another cell. No timer: the cell has ended.
   */
  waitingForPaste(info: { issuer: string; url: string; deadline: number; redirectUri: string }): void;
  /** Something the user may want to know while waiting. */
  event(message: string): void;
  /** Something the user must know even in a terminal (why a browser opens again). */
  notice(message: string): void;
  /** A problem that did not stop the login (the cache could not be read or written). */
  warn(message: string): void;
  succeeded(info: SuccessInfo): void;
  /** What logout() did. */
  signedOut(message: string): void;
  failed(error: LoginError): void;
  /** Releases timers; called once, after succeeded/failed. */
  dispose(): void;
  /** Calls `callback` when the user interrupts (a kernel interrupt); returns the unsubscribe. */
  watchInterrupt(callback: () => void): () => void;
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

export class TerminalReporter implements LoginReporter {
  readonly #write: (text: string) => void;

  constructor(write: (text: string) => void = (text) => process.stderr.write(text)) {
    this.#write = write;
  }

  waiting(info: { url: string }): void {
    this.#write(`Sign in at: ${info.url}\n`);
  }

  waitingForPaste(info: { url: string; redirectUri: string }): void {
    this.#write(
      `Sign in at: ${info.url}\nThen copy the address your browser ends on (it starts with ${info.redirectUri}) and pass it to pending.complete(...).\n`,
    );
  }

  waitingForCode(info: DeviceCodeInfo): void {
    const direct = info.verificationUriComplete ? ` (or directly: ${info.verificationUriComplete})` : "";
    this.#write(`To sign in, open ${info.verificationUri} on any device and enter the code ${info.userCode}${direct}\n`);
  }

  progress(): void {}
  event(): void {}
  notice(message: string): void {
    this.#write(`tslab-oauth: ${message}\n`);
  }
  warn(message: string): void {
    this.#write(`tslab-oauth: warning: ${message}\n`);
  }
  succeeded(): void {}
  signedOut(): void {}
  failed(): void {}
  dispose(): void {}
  // In plain Node, Ctrl-C keeps its default meaning: a SIGINT listener would stop it exiting.
  watchInterrupt(): () => void {
    return () => {};
  }
}

/** "59 min", "2 h 5 min", "45 s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
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
  waiting(info: Parameters<LoginReporter["waiting"]>[0]): void {
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
  dispose(): void {
    this.#inner?.dispose();
  }
  watchInterrupt(callback: () => void): () => void {
    return this.#reporter.watchInterrupt(callback);
  }
}
