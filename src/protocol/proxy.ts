import { BlockList, isIP } from "node:net";
import { isLoopbackHost } from "./urls.js";

/**
 * Which HTTP proxy a request goes through, decided the way curl decides: `proxy` option first,
 * else `https_proxy`/`HTTPS_PROXY` for https URLs and `http_proxy`/`HTTP_PROXY` for http ones (the
 * lower-case name wins), minus what `no_proxy`/`NO_PROXY` lists. Loopback destinations never go
 * through a proxy: a corporate proxy cannot reach this machine's own listener or a local server.
 * Pure: the environment is read once, when the options are resolved.
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
  constructor(readonly what: string, reason: string) {
    super(`${what} is not a usable proxy URL (${reason}): give http://host:port, with user:password@ before the host if the proxy asks for credentials.`);
    this.name = "ProxyUrlError";
  }
}

export function proxyChoice(value: string, source: string): ProxyChoice {
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

/** The proxy for a request to `target`, or undefined for a direct connection. */
export function proxyFor(target: URL, settings: ProxySettings): ProxyChoice | undefined {
  if (settings.kind === "none" || isLoopbackHost(target.hostname)) return undefined;
  if (settings.kind === "fixed") return settings.proxy;
  const proxy = target.protocol === "https:" ? settings.https : settings.http;
  if (!proxy || bypassed(target, settings.noProxy)) return undefined;
  return proxy;
}

/**
 * curl's NO_PROXY: `*` (everything), a host name or domain (with or without a leading dot: the
 * domain and every host under it), `host:port`, an IP address, or an IP range in CIDR notation.
 */
export function bypassed(target: URL, noProxy: readonly string[]): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = target.port || (target.protocol === "https:" ? "443" : "80");
  return noProxy.some((raw) => {
    const entry = raw.toLowerCase();
    if (entry === "*") return true;
    const portMatch = /^(.*):(\d+)$/.exec(entry);
    const [name, entryPort] = portMatch && !entry.includes("::") ? [portMatch[1]!, portMatch[2]!] : [entry, undefined];
    if (entryPort !== undefined && entryPort !== port) return false;
    const bare = name.replace(/^\[|\]$/g, "");
    if (bare.includes("/")) return inRange(host, bare);
    if (isIP(bare)) return bare === host;
    const domain = bare.replace(/^\*?\./, "");
    return domain !== "" && (host === domain || host.endsWith(`.${domain}`));
  });
}

function inRange(host: string, cidr: string): boolean {
  const [network, bits] = cidr.split("/");
  const family = isIP(network ?? "");
  if (!family || isIP(host) !== family) return false;
  const list = new BlockList();
  try {
    list.addSubnet(network!, Number(bits), family === 6 ? "ipv6" : "ipv4");
  } catch {
    return false;
  }
  return list.check(host, family === 6 ? "ipv6" : "ipv4");
}
