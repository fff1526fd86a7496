import type { LoginError } from "../errors.js";
import { escapeHtml, formatDuration, proseHtml } from "../util/text.js";
import type { DisplayEntry, KernelDisplay } from "./display.js";
import type { DeviceCodeInfo, LoginReporter, PasteInfo, SuccessInfo, WaitingInfo } from "./reporter.js";

/**
 * A login shown in the notebook cell: one display entry, kept up to date while waiting (the link,
 * the time left, what happened) and overwritten with one line at the end.
 */

const REFRESH_MS = 10_000;
/** What the waiting line says of the browser: only what happened. */
const BROWSER_LINE = { opening: "Opening a browser tab… ", opened: "A browser tab was opened too. ", failed: "" } as const;
const MAX_EVENTS = 6;
const BOX = "font-family:system-ui,sans-serif;line-height:1.5;padding:6px 10px;border-left:3px solid";

/**
 * The Sign in button. With `selfClosing`, the click opens the page with window.open: a tab a script
 * opened may close itself after the loopback redirect; noopener keeps the provider's page from
 * reaching back into the notebook.
 */
function signInButton(url: string, selfClosing: boolean): string {
  return (
    `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer" ` +
    (selfClosing ? `onclick="window.open(this.href,'_blank','noopener');return false;" ` : "") +
    `style="display:inline-block;padding:3px 14px;border-radius:4px;background:#2563eb;color:#fff;text-decoration:none;font-weight:600">Sign in</a>`
  );
}

/** How long a loopback sign-in waits before the cell adds what to register if the provider refused the redirect. */
export const REDIRECT_HINT_AFTER_MS = 15_000;

export class NotebookReporter implements LoginReporter {
  readonly #display: DisplayEntry;
  readonly #quiet: boolean;
  #timer: NodeJS.Timeout | undefined;
  #waiting: WaitingInfo | undefined;
  #device: DeviceCodeInfo | undefined;
  #browser: "opening" | "opened" | "failed" = "opening";
  readonly #events: { message: string; count: number }[] = [];
  readonly #warnings: string[] = [];
  #ended = false;

  #waitingSince = 0;

  constructor(display: KernelDisplay, quiet: boolean) {
    this.#display = display.newEntry();
    this.#quiet = quiet;
  }

  #show(html: string): void {
    this.#display.html(html);
  }

  #render(): void {
    if (this.#device) {
      this.#renderDevice(this.#device);
      return;
    }
    const w = this.#waiting;
    if (!w) return;
    const left = formatDuration(w.deadline - Date.now());
    const link = signInButton(w.url, true);
    this.#show(
      `<div style="${BOX} #2563eb">` +
        `<div>Sign in to <b>${escapeHtml(w.issuer)}</b> ${link}</div>` +
        `<div style="color:#555;font-size:90%">${w.openBrowser ? BROWSER_LINE[this.#browser] : ""}Waiting for the sign-in: ${escapeHtml(left)} left.</div>` +
        // What to register is advice for a sign-in that does not come back, not for its first seconds.
        (w.redirectHint && Date.now() - this.#waitingSince >= REDIRECT_HINT_AFTER_MS
          ? `<div style="color:#555;font-size:85%">${proseHtml(w.redirectHint)}</div>`
          : "") +
        this.#eventsHtml() +
        this.#warningsHtml() +
        `</div>`,
    );
  }

  progress(message: string): void {
    if (this.#ended) return;
    this.#show(`<div style="${BOX} #2563eb;color:#555">${proseHtml(message)}</div>`);
  }

  notice(message: string): void {
    this.event(message);
  }

  warn(message: string): void {
    if (this.#warnings.includes(message)) return;
    this.#warnings.push(message);
    if (this.#waiting || this.#device) this.#render();
  }

  #warningsHtml(): string {
    return this.#warnings.map((w) => `<div style="color:#9a6700;font-size:90%">⚠ ${proseHtml(w)}</div>`).join("");
  }

  #renderDevice(d: DeviceCodeInfo): void {
    const left = formatDuration(d.deadline - Date.now());
    const href = d.verificationUriComplete ?? d.verificationUri;
    const link = signInButton(href, false);
    this.#show(
      `<div style="${BOX} #2563eb">` +
        `<div>Sign in to <b>${escapeHtml(d.issuer)}</b> ${link} on any device: open <a href="${escapeHtml(d.verificationUri)}" target="_blank" rel="noopener noreferrer">${escapeHtml(d.verificationUri)}</a> and enter</div>` +
        `<div style="font:700 200%/1.4 ui-monospace,monospace;letter-spacing:.12em;margin:4px 0">${escapeHtml(d.userCode)}</div>` +
        `<div style="color:#555;font-size:90%">Waiting for the sign-in: ${escapeHtml(left)} left.</div>` +
        this.#eventsHtml() +
        this.#warningsHtml() +
        `</div>`,
    );
  }

  #eventsHtml(): string {
    const events = this.#events.map((e) => `<li>${proseHtml(e.message)}${e.count > 1 ? ` (×${e.count})` : ""}</li>`).join("");
    return events ? `<ul style="margin:2px 0;color:#555;font-size:90%">${events}</ul>` : "";
  }

  waitingForPaste(info: PasteInfo): void {
    const until = new Date(info.deadline).toLocaleTimeString();
    this.#show(
      `<div style="${BOX} #2563eb">` +
        `<div>Sign in to <b>${escapeHtml(info.issuer)}</b> ${signInButton(info.url, false)}</div>` +
        `<div style="color:#555;font-size:90%">After signing in, your browser shows an error page: it cannot reach this kernel. That is expected. ` +
        `Copy the whole address from its address bar (it starts with <code>${escapeHtml(info.redirectUri)}</code>) and ` +
        (info.prompted
          ? `paste it into the input box below.</div>`
          : `run, in a new cell:</div><pre style="margin:4px 0">const headers = await pending.complete("&lt;paste the address here&gt;");</pre>`) +
        `<div style="color:#555;font-size:90%">${info.linkExpiresAt ? `Open the link before ${escapeHtml(new Date(info.linkExpiresAt).toLocaleTimeString())} (the provider keeps a pushed sign-in request that long; then run the cell again); the sign-in is valid until ${escapeHtml(until)}.` : `Valid until ${escapeHtml(until)}.`}</div>` +
        this.#warningsHtml() +
        `</div>`,
    );
  }

  waitingForCode(info: DeviceCodeInfo): void {
    this.#device = info;
    this.#render();
    this.#timer = setInterval(() => this.#render(), REFRESH_MS);
    this.#timer.unref();
  }

  waiting(info: WaitingInfo): void {
    this.#waiting = info;
    this.#waitingSince = Date.now();
    this.#render();
    this.#timer = setInterval(() => this.#render(), REFRESH_MS);
    this.#timer.unref();
  }

  browser(state: "opened" | "failed"): void {
    if (this.#ended || this.#browser === "failed") return;
    this.#browser = state;
    this.#render();
  }

  event(message: string): void {
    if (this.#ended) return;
    const last = this.#events.at(-1);
    if (last?.message === message) last.count++;
    else this.#events.push({ message, count: 1 });
    if (this.#events.length > MAX_EVENTS) this.#events.shift();
    this.#render();
  }

  succeeded(info: SuccessInfo): void {
    if (this.#ended) return;
    this.#stop();
    // Warnings stay visible even when quiet: they say the sign-in was not saved.
    if (this.#quiet) {
      this.#show(this.#warnings.length ? `<div style="${BOX} #9a6700">${this.#warningsHtml()}</div>` : "");
      return;
    }
    const who = info.name ? ` as <b>${escapeHtml(info.name)}</b>` : "";
    const how = info.source === "cache" ? " (saved sign-in)" : info.source === "refresh" ? " (token refreshed)" : "";
    const valid = info.expiresAt ? `, token valid for ${escapeHtml(formatDuration(info.expiresAt - Date.now()))}` : "";
    this.#show(`<div style="${BOX} #1a7f37">Signed in to ${escapeHtml(info.issuer)}${who}${how}${valid}.${this.#warningsHtml()}</div>`);
  }

  signedOut(message: string): void {
    if (this.#ended) return;
    this.#stop();
    this.#show(`<div style="${BOX} #555">${proseHtml(message)}${this.#warningsHtml()}</div>`);
  }

  failed(error: LoginError): void {
    if (this.#ended) return; // an interrupt already showed the outcome
    this.#stop();
    this.#show(
      `<div style="${BOX} #b42318"><b>Sign-in failed</b> <code>${escapeHtml(error.code)}</code><br>${proseHtml(error.message)}${this.#warningsHtml()}</div>`,
    );
  }

  #stop(): void {
    this.#ended = true;
    clearInterval(this.#timer);
    this.#waiting = undefined;
    this.#device = undefined;
  }

  flush(): Promise<void> {
    return this.#display.flush?.() ?? Promise.resolve();
  }

  dispose(): void {
    clearInterval(this.#timer);
  }

  /**
   * Kernel interrupts arrive as SIGINT; tslab rejects the cell but cannot cancel our work, so a
   * login listens too, and aborts (freeing the port). Call only after the login's first await:
   * a listener added synchronously during a cell kills the kernel on interrupt.
   */
  watchInterrupt(callback: () => void): () => void {
    const handler = (): void => callback();
    process.on("SIGINT", handler);
    return () => process.off("SIGINT", handler);
  }
}
