import * as oauth from "oauth4webapi";
import { LoginError } from "../../errors.js";
import type { ResolvedConfig } from "../../options/types.js";
import { discard } from "../../protocol/body.js";
import { createTransport } from "../../protocol/http.js";
import { clip } from "../../util/text.js";

/**
 * How long the browser has to come back before the check runs. A person takes longer than this to
 * sign in; a browser with a session at the provider comes back sooner, and then the check never runs.
 */
export const PREFLIGHT_DELAY_MS = 3_000;
/** The check never takes longer than this, whatever `requestTimeout` says: it must not hold anything up. */
const PREFLIGHT_TIMEOUT_MS = 10_000;
/** The most of the page that is read: an error page is short, a sign-in page says nothing more further down. */
const MAX_PAGE_BYTES = 64 * 1024;
/** What a browser sends when it navigates: HTML first, and no JSON (LemonLDAP::NG answers a JSON-accepting request as an API call). */
const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/** What the check learned: a refusal ends the sign-in, a doubt is one line in the cell. */
export interface PreflightFinding {
  verdict: "refused" | "doubt";
  status: number;
  /** The page as a person would read it (markup removed, clipped), or a JSON error's fields. */
  text: string;
}

/**
 * Servers that refuse an authorization request (an unregistered redirect URI, an unknown client)
 * show an error page in the browser and never redirect back: the sign-in would wait its whole
 * `timeout` for nothing. So, when no callback has come within {@link PREFLIGHT_DELAY_MS}, the same
 * URL is requested once here, as a browser would (HTML, no cookies, no redirect followed, a short
 * timeout), and the answer judged by {@link judgePreflight}. Never for a pushed request (PAR): its
 * `request_uri` is single use. No answer says nothing.
 */
export async function preflight(
  url: URL,
  config: Pick<ResolvedConfig, "requestTimeoutMs" | "ca" | "proxy">,
  signal: AbortSignal,
): Promise<PreflightFinding | undefined> {
  const transport = createTransport({ ...config, requestTimeoutMs: Math.min(config.requestTimeoutMs, PREFLIGHT_TIMEOUT_MS) }, signal);
  let response: Response | undefined;
  try {
    response = await transport.options[oauth.customFetch](url.href, {
      method: "GET",
      headers: { accept: BROWSER_ACCEPT },
      body: undefined,
      redirect: "manual",
      signal,
    });
    if (!worthReading(response.status)) return undefined;
    return judgePreflight(response.status, pageText(await readSome(response)));
  } catch {
    return undefined; // no answer, or a body that could not be read: nothing learned
  } finally {
    await discard(response);
  }
}

/** Answers that can never mean "refused" are not even read. */
function worthReading(status: number): boolean {
  return status === 200 || (status >= 400 && status <= 499 && !NEVER_REFUSED.has(status));
}

/**
 * 401 and 407 mean "sign in first" (a login that answers a request without cookies so, or
 * Kerberos/SPNEGO and Windows integrated authentication: `WWW-Authenticate: Negotiate`, then the
 * browser negotiates); 408 and 429 mean "not now". The browser's own request goes on from there.
 */
const NEVER_REFUSED = new Set([401, 407, 408, 429]);

/**
 * The words with which servers refuse an authorization request on their own page (RFC 6749
 * §4.1.2.1 error codes, and what they say of the redirect URI or client): oidc-provider's 400
 * `invalid_redirect_uri` / `invalid_client` pages and the interop suite's bent servers, to a request
 * without cookies; django-oauth-toolkit's 400 "invalid_request Mismatching redirect URI" (to a
 * signed-in browser only: without cookies it answers 302 to its login page, and LemonLDAP::NG 200
 * with its login form, both left alone). See docs/providers.md#the-early-refusal-check.
 */
const REFUSAL_WORDS =
  /\b(?:invalid[_ ]request|invalid[_ ]client|unauthorized[_ ]client|unauthorised[_ ]client|invalid[_ ]redirect[_ ]uri|redirect[_ ]uri[_ ]mismatch|unsupported[_ ]response[_ ]type|invalid[_ ]scope|redirect[_ ]?uris?\b[^.]{0,80}\b(?:not|invalid|mismatch|unregistered)|(?:unknown|invalid) client)/i;

/**
 * Judges what the authorization endpoint answered a browser-like request. Only a 400 or 403 whose
 * page names an OAuth refusal ends the sign-in ("refused"): every server in the suite answers an
 * unregistered redirect URI or an unknown client so, and none answers a request that would sign
 * in so. Any other 4xx (a 403 from a firewall's bot check, a 404 for a wrong endpoint), and a 200
 * page that names a refusal, is a "doubt": said in the cell while the sign-in goes on. A 200 page
 * (the sign-in form), a redirect, 401/407/408/429 and 5xx say nothing.
 */
export function judgePreflight(status: number, text: string): PreflightFinding | undefined {
  if (!worthReading(status)) return undefined;
  const named = REFUSAL_WORDS.test(text);
  if ((status === 400 || status === 403) && named) return { verdict: "refused", status, text };
  if (status >= 400 || named) return { verdict: "doubt", status, text };
  return undefined;
}

/** The body's first bytes as text: enough for any error page, never a whole large page. */
async function readSome(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_PAGE_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, MAX_PAGE_BYTES).toString("utf8");
}

/** What a person would read on an error page: no markup, scripts or styles; a JSON error as its fields. */
export function pageText(body: string): string {
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
    .replace(/\s+/g, " ")
    .trim();
  return clip(text, 300);
}

/** The refusal as the sign-in's error: the server's words and the redirect URI to register. */
export function rejectedError(refusal: PreflightFinding, registerHint: string): LoginError {
  const said = refusal.text ? `: "${refusal.text}"` : " with an empty page";
  return new LoginError(
    "AUTHORIZATION_REQUEST_REJECTED",
    `The provider refused the sign-in request before showing its sign-in page (HTTP ${refusal.status}${said}). ` +
      `Most often the redirect URI is not registered for this client, or the client id is unknown. ${registerHint} ` +
      "Then run the cell again. (`preflight: false` turns this check off.)",
    { status: refusal.status },
  );
}

/** A doubt as one line for the waiting cell: what the server answered, what to check; the sign-in goes on. */
export function doubtNotice(doubt: PreflightFinding, registerHint: string): string {
  const said = doubt.text ? ` ("${clip(doubt.text, 160)}")` : "";
  return (
    `The provider answered the sign-in request with HTTP ${doubt.status}${said}. Still waiting: if the browser shows an error instead of a sign-in page, ` +
    `check \`issuer\` and \`clientId\`. ${registerHint}`
  );
}
