import type { DeviceCodeInfo, LoginReporter } from "./reporter.js";

/**
 * Where text goes outside a display: stderr in Node; in Deno, `console.error` (Deno's Jupyter kernel
 * shows `console.*` output and drops what is written to `process.stderr`).
 */
function defaultWrite(text: string): void {
  if ((globalThis as { Deno?: unknown }).Deno !== undefined) console.error(text.replace(/\n$/, ""));
  else process.stderr.write(text);
}

/** Outside a notebook: the sign-in link (or device code) once on stderr, and warnings. */
export class TerminalReporter implements LoginReporter {
  readonly #write: (text: string) => void;

  constructor(write: (text: string) => void = defaultWrite) {
    this.#write = write;
  }

  waiting(info: { url: string }): void {
    this.#write(`Sign in at: ${info.url}\n`);
  }

  waitingForPaste(info: { url: string; redirectUri: string; prompted?: boolean; linkExpiresAt?: number | undefined }): void {
    const then = info.prompted ? "paste it below" : "pass it to pending.complete(...)";
    const within = info.linkExpiresAt ? ` (open it within ${Math.max(1, Math.round((info.linkExpiresAt - Date.now()) / 1000))} s)` : "";
    this.#write(`Sign in at: ${info.url}${within}\nThen copy the address your browser ends on (it starts with ${info.redirectUri}) and ${then}.\n`);
  }

  waitingForCode(info: DeviceCodeInfo): void {
    const direct = info.verificationUriComplete ? ` (or directly: ${info.verificationUriComplete})` : "";
    this.#write(`To sign in, open ${info.verificationUri} on any device and enter the code ${info.userCode}${direct}\n`);
  }

  progress(): void {}
  browser(): void {}
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
  async flush(): Promise<void> {}
  dispose(): void {}
  // In plain Node, Ctrl-C keeps its default meaning: a SIGINT listener would stop it exiting.
  watchInterrupt(): () => void {
    return () => {};
  }
}
