// The shape of the code, checked: what a newcomer relies on when reading the tree.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

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

test("no file in src/ is over 300 lines", () => {
  const long = files(SRC, /\.ts$/)
    .map((path) => ({ path: relative(ROOT, path), lines: readFileSync(path, "utf8").split("\n").length }))
    .filter((file) => file.lines > 300);
  assert.deepEqual(long, []);
});

test("index.ts only re-exports, and one module per kernel talks to it", () => {
  const index = readFileSync(join(SRC, "index.ts"), "utf8").trim().split("\n");
  assert.ok(index.every((line) => /^export (type )?\{[^}]+\} from "\.\/[^"]+";$/.test(line)), "src/index.ts has a line that is not a re-export");
  const tslab = files(SRC, /\.ts$/).filter((path) => readFileSync(path, "utf8").includes("__tslab__"));
  assert.deepEqual(tslab.map((path) => relative(SRC, path)), ["notebook/tslab.ts"]);
  const deno = files(SRC, /\.ts$/).filter((path) => /\bjupyter\b/.test(readFileSync(path, "utf8")) && readFileSync(path, "utf8").includes("broadcast"));
  assert.deepEqual(deno.map((path) => relative(SRC, path)), ["notebook/deno.ts"]);
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
    assert.doesNotMatch(text, /from ["'](undici|conf|env-paths|open)["']|import\(["'](undici|conf)["']\)/, `${relative(ROOT, path)} exposes a dependency's types`);
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
