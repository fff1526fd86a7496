// A real HTTP proxy for the tests: Debian's tinyproxy, started on a free loopback port with a
// configuration of the test's choosing, and its log read back (one "CONNECT host:port" line per
// tunnel). And the test host name: a name that is not loopback, mapped to 127.0.0.1 in /etc/hosts
// by scripts/install-system-deps.sh (or here, when the tests run as root), so that the proxy is
// really used and the name really resolves.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { lookup } from "node:dns/promises";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const TEST_HOST = "idp.tslab-oauth.test";
const TINYPROXY = "/usr/bin/tinyproxy";

/** Makes TEST_HOST resolve to 127.0.0.1, or throws saying how. Never a skip: CI installs it. */
export async function ensureTestHost(): Promise<void> {
  const resolves = async (): Promise<boolean> => (await lookup(TEST_HOST, { family: 4 }).catch(() => undefined))?.address === "127.0.0.1";
  if (await resolves()) return;
  try {
    appendFileSync("/etc/hosts", `\n127.0.0.1 ${TEST_HOST}\n`);
  } catch (cause) {
    throw new Error(
      `${TEST_HOST} must resolve to 127.0.0.1 for the proxy tests: run \`sudo sh scripts/install-system-deps.sh\` (it adds the line to /etc/hosts).`,
      { cause },
    );
  }
  if (!(await resolves())) throw new Error(`${TEST_HOST} still does not resolve to 127.0.0.1 after adding it to /etc/hosts.`);
}

/** A free port on 127.0.0.1, for a program that takes its port from a configuration file. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Tinyproxy {
  port: number;
  /** The proxy's URL, with the credentials when it asks for some. */
  url: string;
  /** The tunnels opened so far, as "host:port", in order. */
  tunnels(): string[];
  close(): Promise<void>;
}

/** True once something accepts connections on 127.0.0.1:port (a connect, never a bind: binding would take the port). */
function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function startTinyproxy(options: { basicAuth?: { user: string; password: string } } = {}): Promise<Tinyproxy> {
  if (!existsSync(TINYPROXY)) throw new Error("tinyproxy is missing: run `sudo sh scripts/install-system-deps.sh` (Debian package tinyproxy-bin).");
  // The port is chosen before tinyproxy binds it: another process may take it meanwhile; try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

async function startOnce(options: { basicAuth?: { user: string; password: string } }): Promise<Tinyproxy> {
  const dir = mkdtempSync(join(tmpdir(), "tslab-oauth-proxy-"));
  const port = await freePort();
  const log = join(dir, "tinyproxy.log");
  const conf = [
    `Port ${port}`,
    "Listen 127.0.0.1",
    "Allow 127.0.0.1",
    "Timeout 30",
    `LogFile "${log}"`,
    "LogLevel Connect",
    "MaxClients 50",
    ...(options.basicAuth ? [`BasicAuth ${options.basicAuth.user} ${options.basicAuth.password}`] : []),
  ];
  writeFileSync(join(dir, "tinyproxy.conf"), `${conf.join("\n")}\n`);
  const child: ChildProcess = spawn(TINYPROXY, ["-d", "-c", join(dir, "tinyproxy.conf")], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const started = Date.now();
  while (!(await accepting(port))) {
    if (Date.now() - started > 10_000 || child.exitCode !== null) {
      const why = existsSync(log) ? readFileSync(log, "utf8").slice(-500) : "no log";
      await stop();
      throw new Error(`tinyproxy did not start on port ${port}: ${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const credentials = options.basicAuth ? `${encodeURIComponent(options.basicAuth.user)}:${encodeURIComponent(options.basicAuth.password)}@` : "";
  return {
    port,
    url: `http://${credentials}127.0.0.1:${port}`,
    tunnels: () => (existsSync(log) ? [...readFileSync(log, "utf8").matchAll(/CONNECT (\S+:\d+)/g)].map((m) => m[1]!) : []),
    close: stop,
  };
}

/** The installed tinyproxy's version line, for the test's report. */
export function tinyproxyVersion(): string {
  return execFileSync(TINYPROXY, ["-v"], { encoding: "utf8" }).trim();
}
