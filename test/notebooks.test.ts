// Every notebook we ship type-checks in tslab (its TypeScript 5.0, node10 resolution, importing the
// package by name), and no notebook or README teaches the `{ headers }` shorthand that tslab breaks.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CHECKER = join(ROOT, "test", "support", "tslab-typecheck.cjs");

function typecheck(files: string[], cwd: string): { file: string; errors: string[] }[] {
  const result = spawnSync(process.execPath, [CHECKER, ...files], { cwd, encoding: "utf8", env: { ...process.env, NODE_PATH: join(ROOT, "node_modules") } });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { file: string; errors: string[] });
}

const folders = [join(ROOT, "notebooks"), join(ROOT, "notebooks", "recipes"), join(ROOT, "test", "e2e", "notebooks")];

test("every shipped notebook type-checks in tslab's compiler", () => {
  let count = 0;
  for (const folder of folders) {
    const files = readdirSync(folder)
      .filter((f) => f.endsWith(".ipynb"))
      .map((f) => join(folder, f));
    for (const { file, errors } of typecheck(files, folder)) {
      assert.deepEqual(errors, [], `${file} does not type-check`);
      count++;
    }
  }
  assert.ok(count >= 8, `checked ${count} notebooks`);
});

test("the check catches a wrong option and a missing import (it can fail)", () => {
  const dir = mkdtempSync(join(ROOT, "notebooks", ".typecheck-"));
  try {
    const file = join(dir, "bad.ipynb");
    const cell = (source: string) => ({ cell_type: "code", source, metadata: {}, outputs: [], execution_count: null });
    writeFileSync(
      file,
      JSON.stringify({
        cells: [cell('import { login } from "tslab-oauth";'), cell('await login({ issuer: "https://x", clientID: "typo" });')],
        metadata: {},
        nbformat: 4,
        nbformat_minor: 5,
      }),
    );
    const [result] = typecheck([file], dir);
    assert.match(result!.errors.join("\n"), /clientID/);
  } finally {
    spawnSync("rm", ["-rf", dir]);
  }
});

test("no notebook cell or README code block teaches `{ headers }`", () => {
  const code: string[] = [];
  for (const block of readFileSync(join(ROOT, "README.md"), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)) code.push(block[1]!);
  for (const folder of folders) {
    for (const f of readdirSync(folder).filter((name) => name.endsWith(".ipynb"))) {
      const nb = JSON.parse(readFileSync(join(folder, f), "utf8")) as { cells: { cell_type: string; source: string | string[] }[] };
      for (const cell of nb.cells) if (cell.cell_type === "code") code.push([cell.source].flat().join(""));
    }
  }
  assert.ok(code.length > 20);
  for (const text of code) assert.doesNotMatch(text, /\{\s*headers\s*\}/, text);
});

test("every shipped notebook is nbformat 4.5 with a unique id per cell (Jupyter otherwise warns and marks it changed on open)", () => {
  let count = 0;
  for (const folder of folders) {
    for (const f of readdirSync(folder).filter((name) => name.endsWith(".ipynb"))) {
      const nb = JSON.parse(readFileSync(join(folder, f), "utf8")) as { nbformat: number; nbformat_minor: number; cells: { id?: unknown }[] };
      assert.ok(nb.nbformat > 4 || (nb.nbformat === 4 && nb.nbformat_minor >= 5), `${f}: nbformat ${nb.nbformat}.${nb.nbformat_minor}`);
      const ids = nb.cells.map((cell) => cell.id);
      assert.ok(
        ids.every((id) => typeof id === "string" && /^[a-zA-Z0-9-_]{1,64}$/.test(id)),
        `${f}: a cell without a valid id`,
      );
      assert.equal(new Set(ids).size, ids.length, `${f}: duplicate cell ids`);
      count++;
    }
  }
  assert.ok(count >= 12, `checked ${count} notebooks`);
});

// #27: what README and docs teach runs as written. Every ```ts block of a document is a cell of one
// notebook, in order (as a reader pastes them), type-checked by tslab's own compiler importing the
// package by name. A block meant as a fragment says so with `// fragment` on its first line.
test("every TypeScript block of README.md and docs/ type-checks in a tslab cell, in order", () => {
  const dir = mkdtempSync(join(ROOT, "notebooks", ".doc-blocks-"));
  try {
    const documents = ["README.md", ...readdirSync(join(ROOT, "docs")).map((f) => join("docs", f))].filter((f) => f.endsWith(".md"));
    const cell = (source: string) => ({ cell_type: "code", source, metadata: {}, outputs: [], execution_count: null });
    const files: string[] = [];
    let blocks = 0;
    for (const doc of documents) {
      const sources = [...readFileSync(join(ROOT, doc), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)]
        .map((m) => m[1]!)
        .filter((s) => !s.startsWith("// fragment"));
      if (sources.length === 0) continue;
      blocks += sources.length;
      const file = join(dir, `${doc.replace(/[/.]/g, "_")}.ipynb`);
      writeFileSync(file, JSON.stringify({ cells: sources.map(cell), metadata: {}, nbformat: 4, nbformat_minor: 5 }));
      files.push(file);
    }
    assert.ok(blocks >= 20, `found ${blocks} blocks`);
    const failures = typecheck(files, dir).filter((r) => r.errors.length > 0);
    assert.deepEqual(failures, [], "a code block of the docs does not type-check as written");
  } finally {
    spawnSync("rm", ["-rf", dir]);
  }
});

test('a const object with a fixed-value option (flow: "device") type-checks: the literal widens to string, checked at run time', () => {
  const dir = mkdtempSync(join(ROOT, "notebooks", ".typecheck-"));
  try {
    const file = join(dir, "widened.ipynb");
    const cell = (source: string) => ({ cell_type: "code", source, metadata: {}, outputs: [], execution_count: null });
    const source = [
      'import { login } from "tslab-oauth";',
      'const config = { issuer: "https://id.example.com", clientId: "my-app", scopes: ["openid"], flow: "device", grant: "authorization_code", pkceMethod: "S256" };',
      "const run = () => login(config);",
    ].join("\n");
    writeFileSync(file, JSON.stringify({ cells: [cell(source)], metadata: {}, nbformat: 4, nbformat_minor: 5 }));
    const [result] = typecheck([file], dir);
    assert.deepEqual(result!.errors, []);
  } finally {
    spawnSync("rm", ["-rf", dir]);
  }
});
