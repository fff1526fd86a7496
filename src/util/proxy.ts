/**
 * Which HTTP proxy a request goes through, decided the way curl decides: `proxy` option first,
 * else `https_proxy`/`HTTPS_PROXY` for https URLs and `http_proxy`/`HTTP_PROXY` for http ones (the
 * lower-case name wins), minus what `no_proxy`/`NO_PROXY` lists. Loopback destinations never go
 * through a proxy: a corporate proxy cannot reach this machine's own listener or a local server.
 * This module reads the settings (once, when the options are resolved); proxy-route.ts applies them.
 */

export interface ProxyChoice {
  /** The proxy's URL, credentials included: only ever given to undici. */
  url: URL;
  /** `host:port`, for messages and the cell: never the credentials. */
  label: string;
  /** What chose it: "`proxy` option", "$HTTPS_PROXY"... */
  source: string;
}

export type ProxySettings =
  | { kind: "none" }
  | { kind: "fixed"; proxy: ProxyChoice }
  | { kind: "environment"; https: ProxyChoice | undefined; http: ProxyChoice | undefined; noProxy: string[]; noProxySource: string | undefined };

/** A proxy URL that cannot be used: `what` names the option or variable, never the value (it may hold a password). */
export class ProxyUrlError extends Error {
  constructor(
    readonly what: string,
    reason: string,
  ) {
    super(`${what} is not a usable proxy URL (${reason}): give http://host:port, with user:password@ before the host if the proxy asks for credentials.`);
    this.name = "ProxyUrlError";
  }
}

function proxyChoice(value: string, source: string): ProxyChoice {
  let url: URL;
  try {
    // curl accepts "host:port" without a scheme and means http.
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw new ProxyUrlError(source, "not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ProxyUrlError(source, `${url.protocol} proxies are not supported`);
  if (!url.hostname) throw new ProxyUrlError(source, "no host");
  return { url, label: url.port ? `${url.hostname}:${url.port}` : url.hostname, source };
}

/** The proxy settings from the `proxy` option (a URL, or false for none) or the environment. */
export function proxySettings(option: string | false | undefined, env: NodeJS.ProcessEnv = process.env): ProxySettings {
  if (option === false) return { kind: "none" };
  if (option !== undefined) return { kind: "fixed", proxy: proxyChoice(option, "the `proxy` option") };
  const read = (name: string): [string, string] | undefined => {
    for (const key of [name.toLowerCase(), name.toUpperCase()]) {
      const value = env[key]?.trim();
      if (value) return [value, `$${key}`];
    }
    return undefined;
  };
  const https = read("https_proxy");
  const http = read("http_proxy");
  const no = read("no_proxy");
  return {
    kind: "environment",
    https: https && proxyChoice(https[0], https[1]),
    http: http && proxyChoice(http[0], http[1]),
    noProxy: no ? no[0].split(/[\s,]+/).filter(Boolean) : [],
    noProxySource: no?.[1],
  };
}
