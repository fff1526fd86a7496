// Builds dist/: the declarations from tsc (one .d.ts per source file, as users' editors and
// tslab's type-checker read them), and the code bundled by esbuild: dist/index.js is what an
// import loads, the flows' code is in chunks loaded on first use, dist/cli/bin.js is the command. Node 20 pays about 0.5 ms per
// ES module it loads: 30 small files cost more than the code in them (BENCHMARKS.md, import).
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
execFileSync(process.execPath, [fileURLToPath(import.meta.resolve("typescript/bin/tsc")), "-p", "tsconfig.build.json", "--emitDeclarationOnly"], {
  cwd: root,
  stdio: "inherit",
});
const common = {
  absWorkingDir: root,
  outdir: "dist",
  outbase: "src",
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  packages: "external",
  legalComments: "none",
  logLevel: "warning",
};
// The library: what importing it loads is one file; each flow's code is a chunk loaded on use.
await build({ ...common, entryPoints: ["src/index.ts"], splitting: true, chunkNames: "chunks/[name]-[hash]" });
// The command runs in its own process: one file.
await build({ ...common, entryPoints: ["src/cli/bin.ts"] });
