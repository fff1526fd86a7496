// The shape of the code, checked: what a newcomer relies on when reading the tree.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { login } from "../src/index.js";
import { DEMO_CLIENT_ID as DEMO_CLIENT } from "../demo/idp.js";
import { closeDemoIdp, demoIdp, isolateCache } from "./support/fixtures.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SRC = join(ROOT, "src");

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path, ext) : ext.test(name) ? [path] : [];
  });
}

/** Every relative module a file imports: static, type-only, re-exports and dynamic import(). */
function imports(path: string): string[] {
  const text = readFileSync(path, "utf8");
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)["'](\.{1,2}\/[^"']+)["']/gm)].map((m) => m[1]!);
  return specs.map((spec) => {
    const target = resolve(dirname(path), spec);
    return target.replace(/\.js$/, path.endsWith(".d.ts") ? ".d.ts" : ".ts");
  });
}

function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "open") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

test("src/ has no import cycles, type imports and dynamic imports included", () => {
  const graph = new Map(files(SRC, /\.ts$/).map((path) => [path, imports(path)]));
  for (const [from, targets] of graph) {
    for (const target of targets) assert.ok(existsSync(target), `${relative(ROOT, from)} imports ${relative(ROOT, target)}, which does not exist`);
  }
  const cycle = findCycle(graph);
  assert.equal(cycle, undefined, `import cycle: ${cycle?.map((p) => relative(SRC, p)).join(" → ")}`);
});

// The layers, bottom up (README "How the code is laid out"): a file imports only from its own folder
// or from a lower layer. The shared ground (errors.ts, secrets.ts, util/) is one layer; store/ and
// notebook/ share a rank and so may not import each other.
const LAYERS: Record<string, number> = { ground: 0, options: 1, protocol: 2, store: 3, notebook: 3, flows: 4, api: 5, cli: 6, "index.ts": 7 };
function layer(path: string): string {
  const rel = relative(SRC, path);
  const top = rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : rel;
  return top === "util" || top === "errors.ts" || top === "secrets.ts" ? "ground" : top;
}

test("imports only point down the layers: ground < options < protocol < store, notebook < flows < api < cli", () => {
  const upward: string[] = [];
  for (const from of files(SRC, /\.ts$/)) {
    const own = layer(from);
    assert.ok(own in LAYERS, `${relative(SRC, from)} is in no layer: add its folder to LAYERS and to README`);
    for (const target of imports(from)) {
      const theirs = layer(target);
      if (theirs !== own && !(LAYERS[theirs]! < LAYERS[own]!)) upward.push(`${relative(SRC, from)} (${own}) → ${relative(SRC, target)} (${theirs})`);
    }
  }
  assert.deepEqual(upward, []);
});

/** The modules a built file loads before any of its code runs: static imports, followed through chunks. */
function staticClosure(entry: string): { files: string[]; packages: string[] } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const walk = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const m of readFileSync(path, "utf8").matchAll(/^\s*(?:import|export)\s+(?:[^"'()]*?\s+from\s+)?["']([^"']+)["']/gm)) {
      const spec = m[1]!;
      if (spec.startsWith(".")) walk(resolve(dirname(path), spec));
      else packages.add(spec);
    }
  };
  walk(entry);
  return { files: [...seen].map((path) => relative(join(ROOT, "dist"), path)), packages: [...packages].sort() };
}

// What `import "tslab-oauth"` costs is what dist/index.js loads statically (BENCHMARKS.md, import):
// Node 20 pays ~0.5 ms per module, undici alone ~15 ms. The protocol, HTTP and flows load on first use.
test("the warm path: importing the package loads no dependency but env-paths, in a handful of files", () => {
  const { files: loaded, packages } = staticClosure(join(ROOT, "dist", "index.js"));
  assert.deepEqual(
    packages.filter((name) => !name.startsWith("node:")),
    ["env-paths"],
    "a dependency is now imported statically by dist/index.js",
  );
  assert.ok(loaded.length <= 10, `dist/index.js now loads ${loaded.length} files statically (8 when this test was written): ${loaded.join(", ")}`);
});

test("the warm path: login() with a valid saved sign-in, in a fresh process, loads no HTTP, protocol or browser code (the secret store's binding neither, where there is no D-Bus session)", async (t) => {
  t.after(closeDemoIdp);
  const cacheDir = isolateCache();
  const idp = await demoIdp();
  const config = { issuer: idp.issuer, clientId: DEMO_CLIENT, scopes: ["openid", "profile"], flow: "loopback" as const };
  await login({ ...config, store: "file", openBrowser: new ScriptedUserAgent().open, timeout: 20 });
  const loadedByWarmLogin = async (store: string): Promise<string[]> => {
    const trace = join(mkdtempSync(join(tmpdir(), "tslab-oauth-trace-")), "modules.txt");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        "--import",
        new URL("./support/load-trace.js", import.meta.url).href,
        fileURLToPath(new URL("./support/warm-child.js", import.meta.url)),
        join(ROOT, "dist", "index.js"),
        JSON.stringify(config),
      ],
      {
        env: {
          ...process.env,
          TSLAB_OAUTH_CACHE_DIR: cacheDir,
          LOAD_TRACE_FILE: trace,
          TSLAB_OAUTH_STORE: store,
          DBUS_SESSION_BUS_ADDRESS: "",
          XDG_RUNTIME_DIR: "",
        },
      },
    );
    assert.deepEqual(JSON.parse(stdout), { bearer: true, browserOpened: false });
    const lines = readFileSync(trace, "utf8").split("\n");
    const duringLogin = lines.slice(lines.indexOf("--- import") + 1, lines.indexOf("--- login"));
    assert.ok(lines.includes("--- import") && lines.some((url) => url.endsWith("/dist/index.js")), "the trace recorded the import");
    return [...new Set(duringLogin.filter((url) => url && !url.startsWith("node:")))];
  };
  assert.deepEqual(
    await loadedByWarmLogin("file"),
    [],
    "a warm login() loaded a module (undici, oauth4webapi, a flow's chunk...) that only a request or a sign-in needs",
  );
  // "auto" (the default) where no D-Bus session runs (this suite, servers, containers): the secret store's binding is not even loaded.
  assert.deepEqual(await loadedByWarmLogin("auto"), [], 'a warm login() with "auto" and no D-Bus session loaded a module');
});

test("no file in src/ is over 300 lines", () => {
  const long = files(SRC, /\.ts$/)
    .map((path) => ({ path: relative(ROOT, path), lines: readFileSync(path, "utf8").split("\n").length }))
    .filter((file) => file.lines > 300);
  assert.deepEqual(long, []);
});

test("index.ts only re-exports, and one module per kernel talks to it", () => {
  const index = readFileSync(join(SRC, "index.ts"), "utf8").trim().split("\n");
  assert.ok(
    index.every((line) => /^export (type )?\{[^}]+\} from "\.\/[^"]+";$/.test(line)),
    "src/index.ts has a line that is not a re-export",
  );
  const tslab = files(SRC, /\.ts$/).filter((path) => readFileSync(path, "utf8").includes("__tslab__"));
  assert.deepEqual(
    tslab.map((path) => relative(SRC, path)),
    ["notebook/tslab.ts"],
  );
  const deno = files(SRC, /\.ts$/).filter((path) => /\bjupyter\b/.test(readFileSync(path, "utf8")) && readFileSync(path, "utf8").includes("broadcast"));
  assert.deepEqual(
    deno.map((path) => relative(SRC, path)),
    ["notebook/deno.ts"],
  );
});

test("the published types name no dependency's types (undici, conf): cells type-check only our own", () => {
  const dist = join(ROOT, "dist");
  const reachable = new Set<string>();
  const walk = (path: string): void => {
    if (reachable.has(path)) return;
    reachable.add(path);
    for (const next of imports(path)) walk(next);
  };
  walk(join(dist, "index.d.ts"));
  for (const path of reachable) {
    const text = readFileSync(path, "utf8");
    assert.doesNotMatch(
      text,
      /from ["'](undici|conf|env-paths|open)["']|import\(["'](undici|conf)["']\)/,
      `${relative(ROOT, path)} exposes a dependency's types`,
    );
  }
});

test("README's error table lists exactly the codes of LoginErrorCode", () => {
  const source = readFileSync(join(SRC, "errors.ts"), "utf8");
  const union = /export type LoginErrorCode =([^;]+);/.exec(source)![1]!;
  const codes = [...union.matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]!).sort();
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Errors"));
  const table = section.slice(0, section.indexOf("\n## ", 1) === -1 ? undefined : section.indexOf("\n## ", 1));
  const rows = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!).sort();
  assert.ok(rows.length > 0, "README.md has no `## Errors` table");
  assert.deepEqual(rows, codes);
});
