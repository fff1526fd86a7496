// A real Secret Service for the keychain tests: Debian's gnome-keyring on a private D-Bus session
// bus (dbus-daemon), in a home folder of its own, its login keyring unlocked by the test with a
// password, inspected with secret-tool (libsecret-tools). All three come from
// scripts/install-system-deps.sh; a missing one is an error naming it, never a skipped test.
//
// The bus has no service activation: nothing is started behind the test's back, so "no Secret
// Service" is a bus where gnome-keyring was never started (or was stopped).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface SecretService {
  /** DBUS_SESSION_BUS_ADDRESS of the private bus. */
  readonly address: string;
  /** The environment a child process needs to reach it. */
  readonly env: NodeJS.ProcessEnv;
  /** What secret-tool finds for service tslab-oauth: one line per attribute and secret. */
  items(): Promise<{ account: string; secret: string }[]>;
  /** Stops gnome-keyring (the bus stays: a session without a secret store). */
  stopKeyring(): Promise<void>;
  close(): Promise<void>;
}

const NEEDS = "run scripts/install-system-deps.sh (it installs dbus-daemon, gnome-keyring and libsecret-tools)";

export async function startSecretService(): Promise<SecretService> {
  const home = mkdtempSync(join(tmpdir(), "tslab-oauth-keyring-"));
  const runtime = join(home, "run");
  mkdirSync(runtime, { mode: 0o700 });
  const socket = join(home, "bus");
  const config = join(home, "bus.conf");
  writeFileSync(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${socket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`,
  );
  const children: ChildProcess[] = [];
  const bus = spawn("dbus-daemon", ["--nofork", `--config-file=${config}`, "--print-address=1"], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(bus);
  const address = await firstLine(bus, "dbus-daemon");
  const env: NodeJS.ProcessEnv = { ...process.env, DBUS_SESSION_BUS_ADDRESS: address, HOME: home, XDG_RUNTIME_DIR: runtime, XDG_DATA_HOME: join(home, "data") };
  let keyring: ChildProcess | undefined = spawn("gnome-keyring-daemon", ["--unlock", "--components=secrets", "--foreground"], {
    env,
    stdio: ["pipe", "ignore", "pipe"],
  });
  children.push(keyring);
  const failed = new Promise<never>((_, reject) =>
    keyring!.once("error", (error) => reject(new Error(`gnome-keyring-daemon did not start: ${NEEDS}`, { cause: error }))),
  );
  keyring.stdin!.end("test-password");
  const secretTool = (...args: string[]) => run("secret-tool", args, { env, timeout: 10_000 });
  // Up once it answers on the bus.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await Promise.race([
      secretTool("search", "--all", "service", "tslab-oauth-probe").then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code === "ENOENT") throw new Error(`secret-tool is missing: ${NEEDS}`, { cause: error });
          return false;
        },
      ),
      failed,
    ]);
    if (ok) break;
    if (Date.now() > deadline) throw new Error("gnome-keyring did not answer on the private D-Bus session within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const stop = async (child: ChildProcess | undefined): Promise<void> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  return {
    address,
    env: { DBUS_SESSION_BUS_ADDRESS: address, HOME: home, XDG_RUNTIME_DIR: runtime, XDG_DATA_HOME: join(home, "data") },
    async items() {
      // secret-tool prints the attributes on stderr and the secret on stdout, item by item.
      const { stdout, stderr } = await secretTool("search", "--all", "--unlock", "service", "tslab-oauth");
      const accounts = [...stderr.matchAll(/^attribute\.username = (.*)$/gm)].map((m) => m[1]!);
      const secrets = [...stdout.matchAll(/^secret = (.*)$/gm)].map((m) => m[1]!);
      return accounts.map((account, i) => ({ account, secret: secrets[i] ?? "" }));
    },
    async stopKeyring() {
      await stop(keyring);
      keyring = undefined;
    },
    async close() {
      await stop(keyring);
      await stop(bus);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

function firstLine(child: ChildProcess, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`${name} printed no address within 10 s: ${err}`)), 10_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${name} could not be started: ${NEEDS}`, { cause: error }));
    });
    child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
  });
}
