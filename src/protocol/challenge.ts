/**
 * `WWW-Authenticate` challenges (RFC 9110 §11.6.1): what an API's 401 or 403 says about signing in
 * to it: `resource_metadata` (RFC 9728 §5.1), `scope` and `error="insufficient_scope"` (RFC 6750
 * §3). Parsed leniently: a malformed part is skipped, never thrown.
 */
export interface Challenge {
  /** Lowercased, e.g. "bearer". */
  scheme: string;
  /** Parameter names lowercased, values unquoted. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

export function parseChallenges(header: string | null | undefined): Challenge[] {
  if (!header) return [];
  const challenges: Challenge[] = [];
  let rest = header.slice(0, 8192);
  let current: Challenge | undefined;
  const skip = (pattern: RegExp): void => {
    rest = rest.replace(pattern, "");
  };
  while (rest.length > 0) {
    skip(/^[\s,]+/);
    const name = TOKEN.exec(rest)?.[0];
    if (!name) {
      rest = rest.slice(1);
      continue;
    }
    rest = rest.slice(name.length);
    const afterName = rest.replace(/^\s*/, "");
    if (afterName.startsWith("=") && current && !/^=+\s*(,|$)/.test(afterName)) {
      // name=value, a parameter of the current challenge
      rest = afterName.slice(1).replace(/^\s*/, "");
      let value: string;
      if (rest.startsWith('"')) {
        const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
        value = quoted ? quoted[1]!.replace(/\\(.)/g, "$1") : rest.slice(1);
        rest = quoted ? rest.slice(quoted[0].length) : "";
      } else {
        value = TOKEN.exec(rest)?.[0] ?? "";
        rest = rest.slice(value.length);
      }
      current.params[name.toLowerCase()] = value;
      continue;
    }
    // A new challenge: its scheme, then parameters (or a token68, which is kept as nothing).
    current = { scheme: name.toLowerCase(), params: {} };
    challenges.push(current);
    const token68 = /^\s+[A-Za-z0-9\-._~+/]+=*\s*(,|$)/.exec(rest);
    if (token68 && !/^\s+[!#$%&'*+\-.^_`|~0-9A-Za-z]+\s*=\s*[^=\s,]/.test(rest)) rest = rest.slice(token68[0].length);
  }
  return challenges;
}

/** The Bearer (or DPoP) challenge's parameters, if the header has one. */
export function bearerChallenge(header: string | null | undefined): Record<string, string> | undefined {
  const challenges = parseChallenges(header);
  return (challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "dpop"))?.params;
}

/** A space-separated scope list as an array (RFC 6749 §3.3); empty and repeated values dropped. */
export function scopeList(value: string | undefined): string[] {
  return value ? [...new Set(value.split(/\s+/).filter(Boolean))] : [];
}
