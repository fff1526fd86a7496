// LemonLDAP::NG, the real thing: Debian's 2.16 portal (liblemonldap-ng-portal-perl) run by its own
// FastCGI server (lemonldap-ng-fastcgi-server) behind nginx, as its documentation deploys it, on a
// free loopback port, with a configuration this file writes (a File backend: lmConf-1.json): Demo
// authentication (dwho/dwho, rtyler/rtyler, msmith/msmith), the OpenID Connect issuer with a fresh
// RSA key, and the relying parties a test asks for. Stopped when the test file ends. A missing
// package or a server that does not start is an error naming the install command, never a skip.
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const FASTCGI = "/usr/sbin/llng-fastcgi-server";
const NGINX = "/usr/sbin/nginx";
const HTDOCS = "/usr/share/lemonldap-ng/portal/htdocs";
const INSTALL = "apt-get install liblemonldap-ng-portal-perl lemonldap-ng-fastcgi-server liblemonldap-ng-manager-perl nginx";

export interface LemonldapClient {
  clientId: string;
  /** A confidential client's secret; without it the client is public (PKCE required). */
  clientSecret?: string;
  /** Registered redirect URIs, matched as LemonLDAP::NG does: exactly, port included. */
  redirectUris: string[];
  /** Refresh tokens (`offline_access` and the refresh grant). @default true */
  refresh?: boolean;
}

export interface LemonldapServer {
  /** `http://127.0.0.1:<port>`: the portal, and the OpenID Connect issuer. */
  issuer: string;
  /** Requests nginx saw, by path (from its access log). */
  requests(): Record<string, number>;
  /** Removes every SSO session (what a logout everywhere, or an expired session, does). */
  dropSessions(): void;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function configuration(issuer: string, dir: string, clients: LemonldapClient[]): Record<string, unknown> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const options: Record<string, Record<string, unknown>> = {};
  const exported: Record<string, Record<string, string>> = {};
  for (const [i, client] of clients.entries()) {
    const rp = `rp${i}`;
    options[rp] = {
      oidcRPMetaDataOptionsClientID: client.clientId,
      ...(client.clientSecret ? { oidcRPMetaDataOptionsClientSecret: client.clientSecret } : { oidcRPMetaDataOptionsPublic: 1 }),
      oidcRPMetaDataOptionsRequirePKCE: client.clientSecret ? 0 : 1,
      oidcRPMetaDataOptionsRedirectUris: client.redirectUris.join(" "),
      oidcRPMetaDataOptionsBypassConsent: 1,
      oidcRPMetaDataOptionsRefreshToken: client.refresh === false ? 0 : 1,
      oidcRPMetaDataOptionsAllowOffline: client.refresh === false ? 0 : 1,
      oidcRPMetaDataOptionsIDTokenSignAlg: "RS256",
    };
    exported[rp] = { email: "mail", name: "cn", preferred_username: "uid" };
  }
  const sessions = (name: string): Record<string, string> => ({ Directory: join(dir, name), LockDirectory: join(dir, name, "lock") });
  return {
    cfgNum: 1,
    cfgVersion: "2.16.1",
    cfgAuthor: "tslab-oauth tests",
    cfgDate: Math.floor(Date.now() / 1000),
    authentication: "Demo",
    userDB: "Same",
    passwordDB: "Demo",
    portalDisplayRegister: 0,
    portalDisplayResetPassword: 0,
    demoExportedVars: { cn: "cn", mail: "mail", uid: "uid" },
    portal: `${issuer}/`,
    domain: "127.0.0.1",
    cookieName: "lemonldap",
    securedCookie: 0,
    requireToken: 0,
    timeout: 72000,
    whatToTrace: "uid",
    locationRules: { "127.0.0.1": { default: "accept" } },
    globalStorage: "Apache::Session::File",
    globalStorageOptions: sessions("sessions"),
    persistentStorage: "Apache::Session::File",
    persistentStorageOptions: sessions("psessions"),
    localSessionStorage: "Cache::FileCache",
    localSessionStorageOptions: { cache_root: join(dir, "cache"), cache_depth: 3, default_expires_in: 600, namespace: "lemonldap-ng-sessions" },
    issuerDBOpenIDConnectActivation: 1,
    oidcServiceMetaDataIssuer: issuer,
    oidcServicePrivateKeySig: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    oidcServicePublicKeySig: publicKey.export({ type: "spki", format: "pem" }).toString(),
    oidcServiceKeyIdSig: randomBytes(8).toString("hex"),
    oidcServiceAllowAuthorizationCodeFlow: 1,
    oidcRPMetaDataOptions: options,
    oidcRPMetaDataExportedVars: exported,
    loginHistoryEnabled: 0,
  };
}

function nginxConfig(dir: string, port: number, socket: string): string {
  return `daemon off;
master_process off;
worker_processes 1;
${process.getuid?.() === 0 ? "user root;\n" : ""}pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "nginx-error.log")} warn;
events { worker_connections 256; }
http {
  access_log ${join(dir, "access.log")};
  client_body_temp_path ${join(dir, "nginx-body")};
  fastcgi_temp_path ${join(dir, "nginx-fastcgi")};
  proxy_temp_path ${join(dir, "nginx-proxy")};
  uwsgi_temp_path ${join(dir, "nginx-uwsgi")};
  scgi_temp_path ${join(dir, "nginx-scgi")};
  include /etc/nginx/mime.types;
  server {
    listen 127.0.0.1:${port};
    server_name 127.0.0.1;
    root ${HTDOCS}/;
    if ($uri !~ ^/((static|javascript|favicon).*|.*\\.psgi)) {
      rewrite ^/(.*)$ /index.psgi/$1 break;
    }
    location ~ ^(?<sc>/.*\\.psgi)(?:$|/) {
      include /etc/nginx/fastcgi_params;
      fastcgi_pass unix:${socket};
      fastcgi_param HTTP_HOST $host:$server_port;
      fastcgi_param LLTYPE psgi;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_split_path_info ^(.*\\.psgi)(/.*)$;
      fastcgi_param PATH_INFO $fastcgi_path_info;
    }
    location /static/ { alias ${HTDOCS}/static/; }
    location /javascript/ { alias /usr/share/javascript/; }
  }
}
`;
}

export async function startLemonldap(clients: LemonldapClient[]): Promise<LemonldapServer> {
  for (const binary of [FASTCGI, NGINX]) if (!existsSync(binary)) throw new Error(`${binary} is missing: LemonLDAP::NG cannot start. Run: ${INSTALL}`);
  const dir = mkdtempSync(join(tmpdir(), "tslab-oauth-llng-"));
  // The FastCGI server refuses to run as root: it runs as nobody, so its folders must be theirs too.
  chmodSync(dir, 0o755);
  for (const name of ["conf", "sessions", "sessions/lock", "psessions", "psessions/lock", "cache", "run"]) {
    mkdirSync(join(dir, name), { recursive: true });
    chmodSync(join(dir, name), 0o777);
  }
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const conf = join(dir, "conf", "lmConf-1.json");
  writeFileSync(conf, JSON.stringify(configuration(issuer, dir, clients), null, 2));
  chmodSync(conf, 0o644);
  const ini = join(dir, "lemonldap-ng.ini");
  writeFileSync(
    ini,
    `[all]\nlogLevel = ${process.env.LLNG_LOG_LEVEL ?? "warn"}\ncheckTime = 1\n[configuration]\ntype = File\ndirName = ${join(dir, "conf")}\n` +
      `[portal]\nstaticPrefix = /static\ntemplateDir = /usr/share/lemonldap-ng/portal/templates\nlanguages = en\n[handler]\nstatus = 0\n`,
  );
  chmodSync(ini, 0o644);
  const socket = join(dir, "run", "llng.sock");
  writeFileSync(join(dir, "nginx.conf"), nginxConfig(dir, port, socket));
  const env = { ...process.env, LLNG_DEFAULTCONFFILE: ini, LLNG_DEFAULTLOGGER: "Lemonldap::NG::Common::Logger::Std" };
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const start = (command: string, args: string[]): ChildProcess => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
    children.push(child);
    return child;
  };
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await gone;
        clearTimeout(timer);
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  // It refuses to run as root: as root (containers, CI), it drops to nobody.
  const asUser = process.getuid?.() === 0 ? ["-u", "nobody", "-g", "nogroup"] : [];
  start(FASTCGI, ["--foreground", ...asUser, "-n", "2", "-s", socket, "-p", join(dir, "run", "llng.pid")]);
  start(NGINX, ["-c", join(dir, "nginx.conf"), "-e", join(dir, "nginx-error.log")]);
  // Ready when the discovery document answers (the FastCGI server loads the portal on first use).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const exited = children.find((child) => child.exitCode !== null);
    if (exited) {
      const text = logs.join("") + (existsSync(join(dir, "nginx-error.log")) ? readFileSync(join(dir, "nginx-error.log"), "utf8") : "");
      await stop();
      throw new Error(`LemonLDAP::NG did not start (${exited.spawnargs[0]} exited ${exited.exitCode}). Install it with: ${INSTALL}\n${text}`);
    }
    const answer = await fetch(`${issuer}/.well-known/openid-configuration`).then(
      (r) => r.status,
      () => 0,
    );
    if (answer === 200) break;
    if (Date.now() > deadline) {
      const text = logs.join("") + (existsSync(join(dir, "nginx-error.log")) ? readFileSync(join(dir, "nginx-error.log"), "utf8") : "");
      await stop();
      throw new Error(`LemonLDAP::NG did not serve its discovery document within 30 s (last answer: ${answer}). Install it with: ${INSTALL}\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    issuer,
    requests() {
      const counts: Record<string, number> = {};
      const log = existsSync(join(dir, "access.log")) ? readFileSync(join(dir, "access.log"), "utf8") : "";
      for (const line of log.split("\n")) {
        const path = /"[A-Z]+ ([^ ?"]+)/.exec(line)?.[1];
        if (path) counts[path] = (counts[path] ?? 0) + 1;
      }
      return counts;
    },
    dropSessions() {
      // The session files, and the portal's local cache of them.
      for (const name of ["sessions", "psessions", "cache"]) {
        rmSync(join(dir, name), { recursive: true, force: true });
        mkdirSync(join(dir, name), { recursive: true, mode: 0o777 });
        chmodSync(join(dir, name), 0o777);
        if (name !== "cache") {
          mkdirSync(join(dir, name, "lock"), { mode: 0o777 });
          chmodSync(join(dir, name, "lock"), 0o777);
        }
      }
    },
    close: stop,
  };
}
