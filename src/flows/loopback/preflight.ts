import * as oauth from "oauth4webapi";
import { LoginError } from "../../errors.js";
import type { ResolvedConfig } from "../../options/types.js";
import { discard } from "../../protocol/body.js";
import { createTransport } from "../../protocol/http.js";
import { clip } from "../../util/text.js";

/** The check never takes longer than this, whatever `requestTimeout` says: it must not hold anything up. */
const PREFLIGHT_TIMEOUT_MS = 10_000;

/**
 * Servers that refuse an authorization request (an unregistered redirect URI, an unknown client)
 * show an error page in the browser and never redirect back: the sign-in would wait its whole
 * `timeout` for nothing. So, while the browser opens the sign-in page, the same URL is requested
 * once here: no cookies, no redirect followed, a short timeout. A 4xx answer instead of a sign-in
 * page or a redirect ends the sign-in at once; anything else (200, 3xx, 5xx, 408, 429, no answer)
 * says nothing and is ignored. Never for a pushed request (PAR): its `request_uri` is single use.
 *
 * Resolves to the refusal (status and the page's text, clipped), or undefined.
 */
export async function preflight(url: URL, config: Pick<ResolvedConfig, "requestTimeoutMs" | "ca" | "proxy">, signal: AbortSignal): Promise<{ status: number; text: string } | undefined> {
  const transport = createTransport({ ...config, requestTimeoutMs: Math.min(config.requestTimeoutMs, PREFLIGHT_TIMEOUT_MS) }, signal);
  let response: Response | undefined;
  try {
    response = await transport.options[oauth.customFetch](url.href, {
      method: "GET",
      headers: { accept: "text/html,application/json;q=0.9,*/*;q=0.8" },
      body: undefined,
      redirect: "manual",
      signal,
    });
    // 408 and 429 say "not now", not "no": the browser's own request may well go through.
    if (response.status < 400 || response.status > 499 || response.status === 408 || response.status === 429) return undefined;
    return { status: response.status, text: pageText(await response.text()) };
  } catch {
    return undefined; // no answer, or a body that could not be read: nothing learned
  } finally {
    await discard(response);
  }
}

/** What a person would read on an error page: no markup, scripts or styles; a JSON error as its fields. */
function pageText(body: string): string {
  try {
    const json = JSON.parse(body) as { error?: unknown; error_description?: unknown };
    if (typeof json.error === "string") return clip(typeof json.error_description === "string" ? `${json.error}: ${json.error_description}` : json.error, 300);
  } catch {
    // not JSON
  }
  const text = body
    .replace(/<(script|style|head)\b[\s\S]*?<\/\1\s*>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, name: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", nbsp: " " })[name] ?? " ")
    .replace(/\s+/g, " ");
  return clip(text, 300);
}

/** The refusal as the sign-in's error: the server's words and the redirect URI to register. */
export function rejectedError(refusal: { status: number; text: string }, registerHint: string): LoginError {
  const said = refusal.text ? `: "${refusal.text}"` : " with an empty page";
  return new LoginError(
    "AUTHORIZATION_REQUEST_REJECTED",
    `The provider refused the sign-in request before showing its sign-in page (HTTP ${refusal.status}${said}). ` +
      `Most often the redirect URI is not registered for this client, or the client id is unknown. ${registerHint} ` +
      "Then run the cell again. (`preflight: false` turns this check off.)",
    { status: refusal.status },
  );
}
