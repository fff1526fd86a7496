// `npm start` as a newcomer meets it (issue #18): the address printed opens the quickstart itself,
// nothing alarming is printed, and Ctrl-C (SIGINT) or SIGTERM stops everything, Jupyter included,
// without a Python traceback. Real Jupyter, real demo provider.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { portIsFree } from "../support/leaks.js";
import { freePort } from "../support/proxy.js";
import { quietJupyterLog } from "../../demo/start.js";
import { ROOT, launchChromium, requireSystemParts, tempDir } from "./harness.js";

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`${what} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(`npm start prints the quickstart's own address, opens the browser there, prints no warning, and ${signal} stops everything without a traceback`, async () => {
    requireSystemParts();
    const dir = tempDir("tslab-oauth-start-");
    const opened = join(dir, "opened.txt");
    const browser = join(dir, "browser.sh");
    writeFileSync(browser, `#!/bin/sh\nprintf '%s' "$1" > "${opened}"\n`);
    chmodSync(browser, 0o755);
    const jupyterPort = await freePort();
    // Its own ports for the demo, so that it runs beside a real `npm start` (which has 9400 and 9401).
    const demoPort = await freePort();
    const apiPort = await freePort();
    const child = spawn(process.execPath, [join(ROOT, "demo", "start.js")], {
      cwd: ROOT,
      env: {
        ...process.env,
        BROWSER: browser,
        DEMO_JUPYTER_PORT: String(jupyterPort),
        DEMO_IDP_PORT: String(demoPort),
        DEMO_API_PORT: String(apiPort),
        JUPYTER_CONFIG_DIR: join(dir, "config"),
        JUPYTER_RUNTIME_DIR: join(dir, "runtime"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.stderr.on("data", (c: Buffer) => (out += c));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      await until(() => /The quickstart: +(\S+)/.test(out), 30_000, `no quickstart address printed: ${out}`);
      const url = new URL(/The quickstart: +(\S+)/.exec(out)![1]!);
      assert.equal(url.pathname, "/notebooks/quickstart.ipynb");
      assert.equal(url.port, String(jupyterPort));
      await until(async () => (await fetch(url).catch(() => undefined))?.status === 200, 30_000, "the quickstart address never answered 200");
      const page = await (await fetch(url)).text();
      assert.match(page, /quickstart\.ipynb/);
      await until(() => existsSync(opened), 15_000, "the browser was never opened");
      const browserUrl = new URL(readFileSync(opened, "utf8"));
      assert.equal(browserUrl.pathname, "/notebooks/quickstart.ipynb", "the browser opens the quickstart, not the folder list");
      // The person's browser opens the notebook, and its kernel starts: what Jupyter then logs.
      const { browser: chromium } = await launchChromium();
      try {
        const page = await chromium.newPage();
        await page.goto(browserUrl.href);
        await new Promise((r) => setTimeout(r, 6000));
      } finally {
        await chromium.close();
      }
      assert.doesNotMatch(out, /oidc-provider WARNING|Unsupported runtime|development-only/);
      assert.doesNotMatch(out, /\/tree|\?token=\S+\s[\s\S]*\?token=/, "only one address is printed");

      child.kill(signal);
      const started = Date.now();
      const code = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 20_000))]);
      assert.notEqual(code, "timeout", `still running 20 s after ${signal}: ${out}`);
      assert.ok(Date.now() - started < 20_000);
      assert.doesNotMatch(out, /Traceback/, out);
      // Only what the person needs (#27): no debugger notes, no warning about trust or extensions, no "received signal".
      assert.doesNotMatch(
        out,
        /Debugger warning|frozen modules|not trusted|nbextensions|received signal|unknown msg_type|MissingIDFieldWarning|\[W |\[C /,
        out,
      );
      await until(() => portIsFree(jupyterPort), 5_000, "Jupyter's port still taken");
      await until(() => portIsFree(demoPort), 5_000, "the demo provider's port still taken");
      await until(() => portIsFree(apiPort), 5_000, "the demo API's port still taken");
    } finally {
      // Jupyter runs in its own process group: stop it the way a user would, never leave it behind.
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      }
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
}

test("npm start's filter of Jupyter's log drops only what says nothing to the person (the kernel's comm_open, nbformat's missing-id warning), and passes real errors", async () => {
  const filter = quietJupyterLog();
  let out = "";
  filter.on("data", (chunk: Buffer) => (out += chunk));
  const done = new Promise((resolve) => filter.on("end", resolve));
  filter.end(
    [
      "unknown msg_type: comm_open",
      "/usr/lib/python3/dist-packages/nbformat/__init__.py:93: MissingIDFieldWarning: Code cell is missing an id field, this will become a hard error in future nbformat versions.",
      "  validate(nb)",
      "0.00s - Debugger warning: It seems that frozen modules are being used, which may",
      "[C 03:36:44.275 NotebookApp] received signal 15, stopping",
      "[E 03:36:45.000 NotebookApp] Uncaught exception GET /api/contents",
      "",
    ].join("\n"),
  );
  await done;
  assert.equal(out, "[E 03:36:45.000 NotebookApp] Uncaught exception GET /api/contents\n");
});
