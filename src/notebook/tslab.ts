import type { LoginError } from "../errors.js";
import { escapeHtml } from "../flows/loopback/pages.js";
import { formatDuration, type DeviceCodeInfo, type LoginReporter, type SuccessInfo } from "./reporter.js";

/**
 * The only module that talks to tslab. It reaches the running kernel's own tslab module through
 * `globalThis.__tslab__` (a plain `require("tslab")` from a linked or nested copy of this package
 * would load another copy, which throws "Not ready"), and shows a login in one display entry
 * (`newDisplay()`), overwritten at the end: tslab has no clear_output, and stream output written
 * with console.log could never be taken back.
 */
interface TslabDisplay {
  html(s: string): void;
}
interface TslabModule {
  newDisplay(): TslabDisplay;
}

export function kernelTslab(): TslabModule | undefined {
  const hook = (globalThis as { __tslab__?: { require?: (id: string) => unknown } }).__tslab__;
  if (!hook || typeof hook.require !== "function") return undefined;
  try {
    const tslab = hook.require("tslab") as Partial<TslabModule> | undefined;
    return typeof tslab?.newDisplay === "function" ? (tslab as TslabModule) : undefined;
  } catch {
    return undefined;
  }
}

const REFRESH_MS = 10_000;
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

export class NotebookReporter implements LoginReporter {
  readonly #display: TslabDisplay;
  readonly #quiet: boolean;
  #timer: NodeJS.Timeout | undefined;
  #waiting: { issuer: string; url: string; deadline: number; openBrowser: boolean } | undefined;
  #device: DeviceCodeInfo | undefined;
  readonly #events: { message: string; count: number }[] = [];
  readonly #warnings: string[] = [];
  #ended = false;

  constructor(tslab: TslabModule, quiet: boolean) {
    this.#display = tslab.newDisplay();
    this.#quiet = quiet;
  }

  #show(html: string): void {
    try {
      this.#display.html(html);
    } catch {
      // The cell is gone (interrupted, kernel busy elsewhere): nothing left to show it in.
    }
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
        `<div style="color:#555;font-size:90%">${w.openBrowser ? "A browser tab was opened too. " : ""}Waiting for the sign-in: ${escapeHtml(left)} left.</div>` +
        this.#eventsHtml() +
        this.#warningsHtml() +
        `</div>`,
    );
  }

  progress(message: string): void {
    if (this.#ended) return;
    this.#show(`<div style="${BOX} #2563eb;color:#555">${escapeHtml(message)}</div>`);
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
    return this.#warnings.map((w) => `<div style="color:#9a6700;font-size:90%">⚠ ${escapeHtml(w)}</div>`).join("");
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
    const events = this.#events
      .map((e) => `<li>${escapeHtml(e.message)}${e.count > 1 ? ` (×${e.count})` : ""}</li>`)
      .join("");
    return events ? `<ul style="margin:2px 0;color:#555;font-size:90%">${events}</ul>` : "";
  }

  waitingForPaste(info: { issuer: string; url: string; deadline: number; redirectUri: string }): void {
    const until = new Date(info.deadline).toLocaleTimeString();
    this.#show(
      `<div style="${BOX} #2563eb">` +
        `<div>Sign in to <b>${escapeHtml(info.issuer)}</b> ${signInButton(info.url, false)}</div>` +
        `<div style="color:#555;font-size:90%">After signing in, your browser shows an error page: it cannot reach this kernel. That is expected. ` +
        `Copy the whole address from its address bar (it starts with <code>${escapeHtml(info.redirectUri)}</code>) and run, in a new cell:</div>` +
        `<pre style="margin:4px 0">const headers = await pending.complete("&lt;paste the address here&gt;");</pre>` +
        `<div style="color:#555;font-size:90%">Valid until ${escapeHtml(until)}.</div>` +
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

  waiting(info: { issuer: string; url: string; deadline: number; openBrowser: boolean }): void {
    this.#waiting = info;
    this.#render();
    this.#timer = setInterval(() => this.#render(), REFRESH_MS);
    this.#timer.unref();
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
    this.#show(`<div style="${BOX} #555">${escapeHtml(message)}${this.#warningsHtml()}</div>`);
  }

  failed(error: LoginError): void {
    if (this.#ended) return; // an interrupt already showed the outcome
    this.#stop();
    this.#show(
      `<div style="${BOX} #b42318"><b>Sign-in failed</b> <code>${escapeHtml(error.code)}</code><br>${escapeHtml(error.message)}${this.#warningsHtml()}</div>`,
    );
  }

  #stop(): void {
    this.#ended = true;
    clearInterval(this.#timer);
    this.#waiting = undefined;
    this.#device = undefined;
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
