import type { LoginError } from "./errors.js";

/**
 * Where a login tells the user what is going on. The terminal prints the sign-in link once to
 * stderr; the notebook (src/notebook.ts, the only module that talks to tslab) keeps one display
 * entry up to date and overwrites it at the end. Nothing here ever receives a secret.
 */
export interface LoginReporter {
  /** The sign-in page is ready; `deadline` is epoch ms. */
  waiting(info: { issuer: string; url: string; deadline: number; openBrowser: boolean }): void;
  /** Something the user may want to know while waiting. */
  event(message: string): void;
  succeeded(info: { issuer: string; name: string | undefined; expiresAt: number | undefined }): void;
  failed(error: LoginError): void;
  /** Releases timers; called once, after succeeded/failed. */
  dispose(): void;
  /** Calls `callback` when the user interrupts (a kernel interrupt); returns the unsubscribe. */
  watchInterrupt(callback: () => void): () => void;
}

export class TerminalReporter implements LoginReporter {
  readonly #write: (text: string) => void;

  constructor(write: (text: string) => void = (text) => process.stderr.write(text)) {
    this.#write = write;
  }

  waiting(info: { url: string }): void {
    this.#write(`Sign in at: ${info.url}\n`);
  }

  event(): void {}
  succeeded(): void {}
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
