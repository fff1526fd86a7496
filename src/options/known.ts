import { LoginError } from "../errors.js";
import type { LoginConfig, LogoutConfig } from "./types.js";

/**
 * Every option a call knows. An option it does not know is refused at the call, before anything
 * is sent: a misspelled `scope` would otherwise sign in without the scopes, and TypeScript's check
 * for unknown properties misses a `const` object (JavaScript cells have none).
 */
const KNOWN: Record<keyof LoginConfig | keyof LogoutConfig, true> = {
  resource: true,
  issuer: true,
  authorizationEndpoint: true,
  tokenEndpoint: true,
  revocationEndpoint: true,
  clientId: true,
  clientSecret: true,
  tokenEndpointAuthMethod: true,
  scopes: true,
  extraParams: true,
  pkceMethod: true,
  redirectUri: true,
  flow: true,
  preflight: true,
  interactive: true,
  grant: true,
  par: true,
  dpop: true,
  timeout: true,
  requestTimeout: true,
  signal: true,
  openBrowser: true,
  quiet: true,
  cache: true,
  cacheDir: true,
  store: true,
  profile: true,
  forceLogin: true,
  ca: true,
  proxy: true,
  revoke: true,
};
const NAMES = Object.keys(KNOWN);

/** INVALID_CONFIG for the first option of `input` no call knows, naming the one meant when one is close. */
export function checkKnownOptions(input: object): void {
  for (const name of Object.keys(input)) {
    if (Object.hasOwn(KNOWN, name)) continue;
    const meant = closestName(name, NAMES);
    throw new LoginError(
      "INVALID_CONFIG",
      `\`${name}\` is not an option of tslab-oauth${meant ? `: did you mean \`${meant}\`?` : "."} Nothing was sent. The options are listed in README.md, "API".`,
    );
  }
}

/** The name of `names` closest to `name`: the same letters in another case, or at most two edits (one for short names). */
export function closestName(name: string, names: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const known of names) {
    const distance = known.toLowerCase() === lower ? 0 : editDistance(lower, known.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [known, distance];
  }
  return bestDistance <= (name.length <= 5 ? 1 : 2) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
