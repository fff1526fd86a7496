// `npm start`: the demo identity provider on http://127.0.0.1:9400, the tslab kernel registered in
// ./.jupyter, and Jupyter opened on notebooks/quickstart.ipynb. Without Jupyter, the same login
// runs from the terminal. Ctrl-C stops everything started here.
//
// The demo provider keeps its state in memory, so tokens saved by an earlier `npm start` mean
// nothing to this one: the demo gives the kernels a token cache of its own for this run (through
// $TSLAB_OAUTH_CACHE_DIR), removed when it stops. Restart the kernel to see a saved sign-in reused.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEMO_CLIENT_ID, startDemoIdp } from "./idp.js";

/** The repository root: the nearest folder up with package.json (this file also runs from .build/). */
function findRoot(dir) {
  while (!existsSync(join(dir, "package.json")) || !existsSync(join(dir, "notebooks"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the tslab-oauth repository root");
    dir = up;
  }
  return dir;
}
const root = findRoot(dirname(fileURLToPath(import.meta.url)));
const port = Number(process.env.DEMO_IDP_PORT ?? 9400);

/** Registers tslab's kernel specs under ./.jupyter and returns the JUPYTER_PATH to use. */
export function registerKernel() {
  const tslab = join(root, "node_modules", ".bin", "tslab");
  if (!existsSync(tslab)) throw new Error("tslab is not installed: run `npm install` first.");
  const prefix = join(root, ".jupyter");
  const result = spawnSync(tslab, ["install", "--python", "/usr/bin/python3", "--binary", tslab, "--prefix", prefix], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`tslab install failed: ${result.stderr || result.stdout}`);
  registerDenoKernel(join(prefix, "share", "jupyter"));
  return join(prefix, "share", "jupyter");
}

/**
 * Deno's kernel, when Deno is installed (the `deno` devDependency brings it): its spec is written
 * into the project's own Jupyter path. `deno jupyter --install` would write into the user's
 * ~/.local/share/jupyter whatever JUPYTER_DATA_DIR says. Returns whether it was registered.
 */
export function registerDenoKernel(jupyterPath) {
  const deno = join(root, "node_modules", ".bin", "deno");
  if (!existsSync(deno)) return false;
  const dir = join(jupyterPath, "kernels", "deno");
  mkdirSync(dir, { recursive: true });
  const spec = {
    argv: [realpathSync(deno), "jupyter", "--kernel", "--conn", "{connection_file}"],
    display_name: "Deno",
    language: "typescript",
    env: { NO_COLOR: "1" },
  };
  writeFileSync(join(dir, "kernel.json"), `${JSON.stringify(spec, null, 2)}\n`);
  return true;
}

function hasJupyterNotebook() {
  if (process.env.TSLAB_OAUTH_NO_JUPYTER) return false;
  return spawnSync("jupyter", ["notebook", "--version"], { stdio: "ignore" }).status === 0 &&
    spawnSync("/usr/bin/python3", ["-c", "import jupyter_client"], { stdio: "ignore" }).status === 0;
}

async function main() {
  let idp;
  try {
    idp = await startDemoIdp({ port, deviceFlow: true });
  } catch (error) {
    if (error?.code === "EADDRINUSE") {
      console.error(`Port ${port} is in use: is another \`npm start\` running? Stop it, or set DEMO_IDP_PORT (and the issuer in the notebook).`);
      process.exit(1);
    }
    throw error;
  }
  console.log(`Demo identity provider: ${idp.issuer}  (client id "${DEMO_CLIENT_ID}"; any name and password signs in)`);
  console.log(`Protected API:          ${idp.issuer}/api/me`);

  const cacheDir = mkdtempSync(join(tmpdir(), "tslab-oauth-demo-cache-"));
  process.env.TSLAB_OAUTH_CACHE_DIR = cacheDir;
  // The profile "demo" of notebooks/shared.ipynb, through the environment naming scheme
  // (TSLAB_OAUTH_<PROFILE>_<FIELD>): the notebook itself names no server and no client.
  process.env.TSLAB_OAUTH_DEMO_ISSUER = idp.issuer;
  process.env.TSLAB_OAUTH_DEMO_CLIENT_ID = DEMO_CLIENT_ID;
  const children = [];
  const stop = async (code = 0) => {
    for (const child of children) child.kill("SIGTERM");
    await idp.close();
    rmSync(cacheDir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  if (hasJupyterNotebook()) {
    const jupyterPath = registerKernel();
    const kernels = existsSync(join(jupyterPath, "kernels", "deno")) ? "TypeScript (tslab) and Deno" : "TypeScript (tslab)";
    console.log(`Opening Jupyter on notebooks/quickstart.ipynb (kernels: ${kernels}, from ./.jupyter). Ctrl-C stops everything.`);
    const args = ["notebook", join("notebooks", "quickstart.ipynb")];
    if (process.getuid?.() === 0) args.push("--allow-root"); // containers and CI machines run as root
    const jupyter = spawn("jupyter", args, {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, JUPYTER_PATH: [jupyterPath, process.env.JUPYTER_PATH].filter(Boolean).join(":") },
    });
    children.push(jupyter);
    jupyter.on("exit", (code) => void stop(code ?? 0));
    return;
  }

  console.log(
    [
      "",
      "Jupyter is not installed, so here is the same login from the terminal.",
      "To use the notebook, install Jupyter, then run `npm start` again:",
      "  sudo apt-get install jupyter-notebook python3-ipykernel   (Debian/Ubuntu)",
      "  pip install notebook                                      (anywhere else)",
      "",
    ].join("\n"),
  );
  const { login } = await import("../dist/index.js");
  try {
    const headers = await login({ issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid", "profile"] });
    console.log("Signed in. login() returned", headers);
    const res = await fetch(`${idp.issuer}/api/me`, { headers: headers });
    console.log(`GET /api/me -> ${res.status}`, await res.json());
    await stop(0);
  } catch (error) {
    console.error(`${error.name} [${error.code}]: ${error.message}`);
    await stop(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
