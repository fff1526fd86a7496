import { BlockList, isIP } from "node:net";
import type { ProxyChoice, ProxySettings } from "../util/proxy.js";
import { isLoopbackHost } from "../util/urls.js";

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
