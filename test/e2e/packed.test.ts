// Outside the repository (#27): the package as the registry ships it (`npm pack`), installed into an
// empty folder with a local tslab, the kernel registered the way README says, the package's own
// `tslab-oauth demo` to sign in against, and a notebook in that folder that signs in through a real
// Chromium under real Jupyter. Nothing from the repository is used but the tarball and the harness.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { ROOT, launchChromium, outputText, requireSystemParts, runNotebook, startBrowserBridge, tempDir } from "./harness.js";

const PORT = 9460;
let browser: Browser;
let demo: ChildProcess | undefined;
before(async () => {
  requireSystemParts();
  ({ browser } = await launchChromium());
});
after(async () => {
  demo?.kill("SIGINT");
  await browser?.close();
});

function sh(command: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false" } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("from the packed tarball in an empty folder: install with a local tslab, register the kernel as README says, `tslab-oauth demo`, and a notebook there signs in", async () => {
  const pack = tempDir("tslab-oauth-pack-");
  const packed = sh("npm", ["pack", "--ignore-scripts", "--pack-destination", pack, "--silent"], ROOT);
  assert.equal(packed.status, 0, packed.stderr);
  const tarball = join(pack, packed.stdout.trim().split("\n").pop()!);
  const app = tempDir("tslab-oauth-app-");
  const devDeps = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> }).devDependencies;
  assert.equal(sh("npm", ["init", "-y"], app).status, 0);
  const installed = sh("npm", ["install", tarball, `tslab@${devDeps.tslab}`], app);
  assert.equal(installed.status, 0, installed.stderr);

  // Something to sign in against: without its two optional dependencies, the command says which.
  const bin = join(app, "node_modules", ".bin", "tslab-oauth");
  const bare = sh(bin, ["demo", "--port", String(PORT)], app);
  assert.equal(bare.status, 2);
  assert.match(bare.stderr, /npm install --save-dev oidc-provider jose/);
  assert.equal(sh("npm", ["install", "--save-dev", `oidc-provider@${devDeps["oidc-provider"]}`, `jose@${devDeps.jose}`], app).status, 0);
  demo = spawn(bin, ["demo", "--port", String(PORT)], { cwd: app, stdio: ["ignore", "pipe", "inherit"] });
  const banner = await new Promise<string>((resolve, reject) => {
    let out = "";
    demo!.stdout!.on("data", (chunk: Buffer) => {
      out += chunk;
      if (out.includes("Ctrl-C stops it")) resolve(out);
    });
    demo!.once("exit", (code) => reject(new Error(`tslab-oauth demo exited ${code}: ${out}`)));
  });
  assert.match(banner, new RegExp(`Demo identity provider: http://127\\.0\\.0\\.1:${PORT}`));

  // README, "Install": a local tslab is registered with its own path as --binary, for a Python that has Jupyter.
  const tslab = join(app, "node_modules", ".bin", "tslab");
  const registered = sh(tslab, ["install", "--python", "/usr/bin/python3", "--binary", tslab, "--prefix", join(app, ".jupyter")], app);
  assert.equal(registered.status, 0, registered.stderr);

  const cell = (source: string, id: string) => ({ cell_type: "code", id, source, metadata: {}, outputs: [], execution_count: null });
  const notebook = join(app, "first.ipynb");
  writeFileSync(
    notebook,
    JSON.stringify({
      cells: [
        cell('import { login } from "tslab-oauth";', "a"),
        cell(
          `const headers = await login({ issuer: "http://127.0.0.1:${PORT}", clientId: "tslab-demo", scopes: ["openid", "profile"], flow: "loopback" });`,
          "b",
        ),
        cell(
          `const res = await fetch("http://127.0.0.1:${PORT}/api/me", { headers: headers });\nconst me = (await res.json()) as { sub: string };\nconsole.log(res.status, me.sub);`,
          "c",
        ),
      ],
      metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" } },
      nbformat: 4,
      nbformat_minor: 5,
    }),
  );
  const context = await browser.newContext();
  const bridge = await startBrowserBridge(context);
  try {
    const run = await runNotebook(notebook, { env: { BROWSER: bridge.browserEnv, JUPYTER_PATH: join(app, ".jupyter", "share", "jupyter") } });
    assert.match(outputText(run, 1), new RegExp(`Signed in to http://127\\.0\\.0\\.1:${PORT} as <b>alice</b>`));
    assert.match(outputText(run, 2), /200 alice/);
  } finally {
    await bridge.close();
    await context.close();
  }
});
