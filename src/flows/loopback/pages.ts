import { createHash } from "node:crypto";
import { escapeHtml } from "../../util/text.js";

/**
 * The pages the loopback listener shows in the browser. Everything interpolated is escaped; the
 * only script is the inline `window.close()`, allowed by its hash in the Content-Security-Policy.
 * Chromium closes the tab only when a script opened it (the notebook's Sign in link does, through
 * `window.open`); otherwise the text tells the user to close it.
 */

const CLOSE_SCRIPT = "window.close();";
const STYLE =
  "body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#1d2330}" +
  "main{max-width:34rem;padding:2rem 2.5rem;background:#fff;border-radius:10px;box-shadow:0 1px 4px rgba(0,0,0,.12)}" +
  "h1{font-size:1.35rem;margin:0 0 .5rem}.ok h1{color:#1a7f37}.err h1{color:#b42318}p{margin:.4rem 0}code{word-break:break-all}";

const sha256 = (text: string): string => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Content-Type": "text/html; charset=utf-8",
  "Cache-Control": "no-store",
  Pragma: "no-cache",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Content-Security-Policy": `default-src 'none'; script-src ${sha256(CLOSE_SCRIPT)}; style-src ${sha256(STYLE)}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  Connection: "close",
});

function page(kind: "ok" | "err", title: string, paragraphs: string[], close: boolean): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>` +
    `<body><main class="${kind}"><h1>${escapeHtml(title)}</h1>${paragraphs.map((p) => `<p>${p}</p>`).join("")}</main>` +
    (close ? `<script>${CLOSE_SCRIPT}</script>` : "") +
    `</body></html>`
  );
}

/** Shown once the code exchange succeeded. */
export function signedInPage(issuer: string): string {
  return page("ok", "Signed in", [`You are signed in to <code>${escapeHtml(issuer)}</code>.`, "You can close this tab and return to your notebook."], true);
}

/** Shown when the login failed after the redirect came back. */
export function failedPage(message: string): string {
  return page("err", "Sign-in failed", [escapeHtml(message), "Return to your notebook for details, then run the login again."], false);
}

/** Shown for a callback that does not belong to the login in progress (stale tab, forgery). */
export function staleCallbackPage(reason: string): string {
  return page("err", "This sign-in link is not valid", [escapeHtml(reason), "If you are signing in, use the most recent link from your notebook."], false);
}
