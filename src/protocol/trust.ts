import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as tls from "node:tls";

/**
 * The certificate authorities a request trusts: what the machine trusts, plus the `ca` option.
 * Node's bundled list always; the operating system's store where Node can read it (Node >= 22.15
 * / 23.8); `NODE_EXTRA_CA_CERTS`; and OpenSSL's `SSL_CERT_FILE` / `SSL_CERT_DIR`, which Python
 * users already set for a company's authority. Verification is never turned off: these only add.
 * Returns undefined when nothing beyond Node's own defaults applies (the default agent is used).
 */
export function trustedAuthorities(ca: ReadonlyArray<string | Buffer> | undefined, env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const extra = [...fromEnvironment(env), ...(ca ?? []).map((entry) => (typeof entry === "string" ? entry : entry.toString("utf8")))];
  const system = systemStore();
  if (extra.length === 0 && system.length === 0) return undefined;
  // Node's defaults (bundled, and NODE_EXTRA_CA_CERTS) are replaced by an explicit list: add them back.
  return [...new Set([...tls.rootCertificates, ...system, ...nodeExtra(env), ...extra])];
}

type GetCaCertificates = (type: "system" | "extra") => string[];

let systemCache: string[] | undefined;
/** The operating system's store, once per process; empty on Node versions that cannot read it. */
function systemStore(): string[] {
  if (!systemCache) {
    const get = (tls as unknown as { getCACertificates?: GetCaCertificates }).getCACertificates;
    try {
      systemCache = typeof get === "function" ? get("system") : [];
    } catch {
      systemCache = [];
    }
  }
  return systemCache;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function pemFile(path: string): string[] {
  try {
    return readFileSync(path, "utf8").match(PEM_BLOCK) ?? [];
  } catch {
    return []; // OpenSSL, too, ignores a variable naming a missing file
  }
}

function nodeExtra(env: NodeJS.ProcessEnv): string[] {
  return env.NODE_EXTRA_CA_CERTS ? pemFile(env.NODE_EXTRA_CA_CERTS) : [];
}

function fromEnvironment(env: NodeJS.ProcessEnv): string[] {
  const certs = env.SSL_CERT_FILE ? pemFile(env.SSL_CERT_FILE) : [];
  for (const dir of (env.SSL_CERT_DIR ?? "").split(":").filter(Boolean)) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    // OpenSSL reads the hashed names (`5ed36f99.0`); distributions add `.pem` / `.crt` links to the same files.
    for (const name of names) if (/^[0-9a-f]{8}\.\d+$/.test(name) || /\.(pem|crt)$/.test(name)) certs.push(...pemFile(join(dir, name)));
  }
  return certs;
}
