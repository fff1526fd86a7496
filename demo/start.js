// `npm start`: the demo identity provider on http://127.0.0.1:9400, the tslab kernel registered in
// ./.jupyter (and Deno's, when Deno is installed), and Jupyter opened on notebooks/quickstart.ipynb
// (its address printed). Without Jupyter, the same login runs from the terminal. Ctrl-C, SIGTERM or
// SIGHUP stops everything started here, Jupyter first and gently.
//
// The demo provider keeps its state in memory, so tokens saved by an earlier `npm start` mean
// nothing to this one: the demo gives the kernels a token cache of its own for this run (through
// $TSLAB_OAUTH_CACHE_DIR), removed when it stops. Restart the kernel to see a saved sign-in reused.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer as createNetServer } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Transform } from "node:stream";
import { fileURLToPath } from "node:url";
import { startDemoApi } from "./api.js";
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
/** The demo API of notebooks/explore-an-api.ipynb, signed in to by its URL alone. */
const apiPort = Number(process.env.DEMO_API_PORT ?? 9401);

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
  return (
    spawnSync("jupyter", ["notebook", "--version"], { stdio: "ignore" }).status === 0 &&
    spawnSync("/usr/bin/python3", ["-c", "import jupyter_client"], { stdio: "ignore" }).status === 0
  );
}

async function main() {
  let idp;
  try {
    idp = await startDemoIdp({ port, deviceFlow: true, par: true, registration: "open", resourceIndicators: true });
  } catch (error) {
    if (error?.code === "EADDRINUSE") {
      console.error(`Port ${port} is in use: is another \`npm start\` running? Stop it, or set DEMO_IDP_PORT (and the issuer in the notebook).`);
      process.exit(1);
    }
    throw error;
  }
  console.log(`Demo identity provider: ${idp.issuer}  (client id "${DEMO_CLIENT_ID}"; any name and password signs in)`);
  console.log(`Protected API:          ${idp.issuer}/api/me`);
  let api;
  try {
    api = await startDemoApi({ idp, port: apiPort });
  } catch (error) {
    if (error?.code !== "EADDRINUSE") throw error;
    console.error(`Port ${apiPort} is in use: the API of notebooks/explore-an-api.ipynb is not started (set DEMO_API_PORT to move it).`);
  }
  if (api) console.log(`An API to sign in to by its URL alone: ${api.resource}  (notebooks/explore-an-api.ipynb)`);

  const cacheDir = mkdtempSync(join(tmpdir(), "tslab-oauth-demo-cache-"));
  process.env.TSLAB_OAUTH_CACHE_DIR = cacheDir;
  // The profile "demo" of notebooks/shared.ipynb, through the environment naming scheme
  // (TSLAB_OAUTH_<PROFILE>_<FIELD>): the notebook itself names no server and no client.
  process.env.TSLAB_OAUTH_DEMO_ISSUER = idp.issuer;
  process.env.TSLAB_OAUTH_DEMO_CLIENT_ID = DEMO_CLIENT_ID;
  const children = [];
  let stopping;
  // Jupyter runs in its own process group, so a terminal's Ctrl-C reaches only this process, which
  // then stops Jupyter gently (SIGTERM: it shuts its kernels down, no traceback) before the rest.
  const stop = (code = 0) =>
    (stopping ??= (async () => {
      await Promise.all(children.map((child) => stopChild(child)));
      await api?.close();
      await idp.close();
      rmSync(cacheDir, { recursive: true, force: true });
      process.exit(code);
    })());
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => void stop(0));

  if (hasJupyterNotebook()) {
    const jupyterPath = registerKernel();
    const kernels = existsSync(join(jupyterPath, "kernels", "deno")) ? "TypeScript (tslab) and Deno" : "TypeScript (tslab)";
    const jupyterPort = await freePort(Number(process.env.DEMO_JUPYTER_PORT ?? 8888));
    const token = randomBytes(24).toString("hex");
    // Given a file, Jupyter serves the file's folder (notebooks/).
    const notebookUrl = `http://127.0.0.1:${jupyterPort}/notebooks/quickstart.ipynb?token=${token}`;
    const args = [
      "notebook",
      join("notebooks", "quickstart.ipynb"),
      "--ip=127.0.0.1",
      `--port=${jupyterPort}`,
      "--port-retries=0",
      `--NotebookApp.token=${token}`,
      // The browser gets the notebook's own address (not a redirect file), and Jupyter's own log,
      // which prints the folder list's address, stays quiet unless something goes wrong.
      "--NotebookApp.use_redirect_file=False",
      "--NotebookApp.log_level=ERROR",
    ];
    if (process.getuid?.() === 0) args.push("--allow-root"); // containers and CI machines run as root
    const jupyter = spawn("jupyter", args, {
      cwd: root,
      stdio: ["ignore", "inherit", "pipe"],
      detached: true,
      env: {
        ...process.env,
        JUPYTER_PATH: [jupyterPath, process.env.JUPYTER_PATH].filter(Boolean).join(":"),
        // pydevd's "frozen modules" note, printed at every start, means nothing to a notebook user.
        PYDEVD_DISABLE_FILE_VALIDATION: "1",
      },
    });
    jupyter.stderr.pipe(quietJupyterLog()).pipe(process.stderr);
    children.push(jupyter);
    jupyter.on("exit", (code) => void stop(code ?? 0));
    console.log(`Kernels:                ${kernels} (registered in ./.jupyter)`);
    console.log(`The quickstart:         ${notebookUrl}`);
    console.log("Ctrl-C stops everything.");
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

/**
 * Jupyter's log, without what says nothing to the person who ran `npm start`: pydevd's debugger
 * notes, the kernel's "unknown msg_type: comm_open" (tslab has no widgets), nbformat's
 * MissingIDFieldWarning and its source line, and "received signal 15, stopping" when we stop it.
 * Everything else (a real error) goes through as it is.
 */
export function quietJupyterLog() {
  const noise = [
    /Debugger warning|frozen modules|PYDEVD_DISABLE_FILE_VALIDATION|to python to disable frozen/,
    /unknown msg_type/i,
    /received signal \d+, stopping/,
  ];
  let skipNext = false;
  let rest = "";
  const keep = (line) => {
    if (skipNext) {
      skipNext = false;
      if (/^\s/.test(line)) return false;
    }
    if (/MissingIDFieldWarning/.test(line)) {
      skipNext = true; // the warning's second line quotes the call that raised it
      return false;
    }
    return !noise.some((pattern) => pattern.test(line));
  };
  return new Transform({
    transform(chunk, _encoding, done) {
      const lines = (rest + chunk.toString()).split("\n");
      rest = lines.pop() ?? "";
      const kept = lines.filter(keep);
      done(null, kept.length ? `${kept.join("\n")}\n` : "");
    },
    flush(done) {
      done(null, rest && keep(rest) ? rest : "");
    },
  });
}

/** Stops a child gently (SIGTERM to its process group), then for good after 10 s. */
function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const kill = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        child.kill(signal);
      }
    };
    const timer = setTimeout(() => kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolvePromise();
    });
    kill("SIGTERM");
  });
}

/** `preferred` if it is free on 127.0.0.1, else any free port. */
function freePort(preferred) {
  return new Promise((resolvePromise) => {
    const server = createNetServer();
    server.once("error", () => {
      const any = createNetServer();
      any.listen(0, "127.0.0.1", () => {
        const { port: chosen } = any.address();
        any.close(() => resolvePromise(chosen));
      });
    });
    server.listen(preferred, "127.0.0.1", () => server.close(() => resolvePromise(preferred)));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
