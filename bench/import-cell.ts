// The first import cell in a real tslab kernel (`npm run bench:import-cell`), side by side with
// openid-client: what a notebook user waits for after opening a notebook and running
// `import { login } from "tslab-oauth"`. tslab type-checks every cell (its bundled TypeScript 5.0,
// node10 resolution, skipLibCheck) before running it, so the first cell that imports a package
// parses and binds that package's .d.ts files (and everything they import) once per kernel.
//
//   - One FRESH kernel per sample (tslab through Jupyter's jupyter_client, the kernel spec installed
//     with `tslab install --prefix <temp>`, JUPYTER_PATH pointing at it), its working directory a
//     temporary folder inside this repository, so that "tslab-oauth" (node_modules/tslab-oauth ->
//     .., i.e. dist/, through scripts/link-self.mjs), "openid-client" and @types/node resolve
//     through the repository's node_modules, as in notebooks/.
//   - The worker (bench/import-cell.py, Debian's /usr/bin/python3) starts the kernel, waits for
//     its kernel_info answer (tslab builds its TypeScript program before it answers: not counted),
//     then sends the cells one by one. A cell's time runs from just before its execute_request to
//     the later of its execute_reply and its "idle" status (CLOCK_MONOTONIC, both channels polled):
//     the moment the notebook shows the cell finished, all outputs delivered.
//   - Cells per kernel: 1. the contender's cell (the number that matters), 2. the same cell run
//     again (warm: the program and the module are loaded), 3. a trivial cell after it
//     (`const y: number = 2; y`: does every later cell pay for the imported declarations?).
//   - Contenders, interleaved round-robin (the starting contender rotates every round), warm-up
//     rounds discarded (they also fill the OS file cache):
//       baseline                 `const x: number = 1; x` (type-check and run of a trivial cell)
//       tslab-oauth              `import { login } from "tslab-oauth"; typeof login`
//       openid-client            `import * as client from "openid-client"; typeof client.discovery`
//       tslab-oauth via require() `const m = require("tslab-oauth"); typeof m.login`: the module is
//                                loaded but its .d.ts files are not read (require() is `any`)
//       openid-client via require() the same for openid-client
//     The two require() rows split the import cell into loading the module and type-checking its
//     declarations: import − require ≈ the type-check cost.
//   - Reported per contender: median and p90 of the first cell, "× baseline" = the median of the
//     per-round ratios to the baseline's first cell of the same round, "− baseline" = the median
//     of the per-round differences; the same for cells 2 and 3 (median / p90); kernel start-up.
//     A cell that fails (status error: a type error or an exception) fails the run (exit 1) with
//     its message; a "cannot find module" failure is retried once after 2 s (dist/ may be
//     mid-rebuild by `npm run build`).
//
// Environment: BENCH_IMPORT_CELL_ROUNDS (7), BENCH_IMPORT_CELL_WARMUP (1), BENCH_IMPORT_CELL_ONLY
// (comma-separated contender names; the baseline always runs), BENCH_IMPORT_CELL_PYTHON
// (/usr/bin/python3: needs jupyter_client and pyzmq), BENCH_IMPORT_CELL_TIMEOUT (seconds per
// kernel, 120).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const ROUNDS = Number(process.env.BENCH_IMPORT_CELL_ROUNDS ?? 7);
const WARMUP = Number(process.env.BENCH_IMPORT_CELL_WARMUP ?? 1);
const PYTHON = process.env.BENCH_IMPORT_CELL_PYTHON ?? "/usr/bin/python3";
const TIMEOUT_S = Number(process.env.BENCH_IMPORT_CELL_TIMEOUT ?? 120);
const ONLY = process.env.BENCH_IMPORT_CELL_ONLY?.split(",").map((name) => name.trim());
const FOLLOW_UP = "const y: number = 2; y";

interface Contender {
  name: string;
  cell: string;
  /** What the first cell prints when it worked. */
  expect: string;
}
const BASELINE: Contender = { name: "baseline", cell: "const x: number = 1; x", expect: "1" };
const CONTENDERS: Contender[] = [
  BASELINE,
  { name: "tslab-oauth", cell: 'import { login } from "tslab-oauth"; typeof login', expect: "function" },
  { name: "openid-client", cell: 'import * as client from "openid-client"; typeof client.discovery', expect: "function" },
  { name: "tslab-oauth via require()", cell: 'const m = require("tslab-oauth"); typeof m.login', expect: "function" },
  { name: "openid-client via require()", cell: 'const m = require("openid-client"); typeof m.discovery', expect: "function" },
].filter((c) => c === BASELINE || !ONLY || ONLY.includes(c.name));

interface CellAnswer {
  ms: number;
  replyMs: number;
  idleMs: number;
  status: string;
  error: string | null;
  stdout: string;
  stderr: string;
}
interface KernelAnswer {
  id: number;
  startMs?: number;
  cells?: CellAnswer[];
  failed?: string;
}
interface Sample {
  round: number;
  startMs: number;
  first: number;
  second: number;
  followUp: number;
}

function stats(samples: number[]): { median: number; p90: number; min: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p90: at(0.9), min: sorted[0]!, max: sorted.at(-1)! };
}
const ms = (value: number): string => `${value.toFixed(0)} ms`;
const progress = (message: string): boolean => process.stderr.write(`import-cell: ${message}\n`);

/** The package root: two levels above .build/bench/, else the working directory (`npm run` runs there). */
function packageRoot(): string {
  const candidates = [resolve(dirname(fileURLToPath(import.meta.url)), "..", ".."), process.cwd()];
  for (const dir of candidates) {
    try {
      if ((JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string }).name === "tslab-oauth") return dir;
    } catch {
      // not this one
    }
  }
  throw new Error(`the tslab-oauth package root was not found (looked at ${candidates.join(", ")}); run from the package root`);
}

/** One JSON line per kernel: bench/import-cell.py starts a fresh kernel, runs the cells, kills it. */
class KernelWorker {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  #stderr = "";
  #id = 0;

  constructor(script: string, env: NodeJS.ProcessEnv) {
    this.#child = spawn(PYTHON, ["-u", script], { env, stdio: ["pipe", "pipe", "pipe"] });
    this.#child.on("error", (error) => (this.#stderr += `${error.message}\n`));
    this.#child.stderr.setEncoding("utf8").on("data", (chunk: string) => (this.#stderr = (this.#stderr + chunk).slice(-4000)));
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async run(cwd: string, cells: string[]): Promise<KernelAnswer> {
    const id = ++this.#id;
    this.#child.stdin.write(`${JSON.stringify({ id, kernel: "tslab", cwd, cells, timeout: TIMEOUT_S })}\n`);
    const line = await this.#lines.next();
    if (line.done) throw new Error(`the Python worker exited (${this.#child.exitCode ?? this.#child.signalCode}): ${this.#stderr.trim()}`);
    const answer = JSON.parse(line.value) as KernelAnswer;
    if (answer.id !== id) throw new Error(`the Python worker answered request ${answer.id} instead of ${id}`);
    return answer;
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((done) => this.#child.once("exit", () => done()));
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

const ROOT = packageRoot();
const script = [fileURLToPath(new URL("../../bench/import-cell.py", import.meta.url)), join(ROOT, "bench", "import-cell.py")].find((path) => existsSync(path));
if (!script) throw new Error("bench/import-cell.py not found; run from the package root");
const tslabBinary = join(ROOT, "node_modules", ".bin", "tslab");
if (!existsSync(tslabBinary)) throw new Error("tslab is not installed: run `npm install` first");
if (!existsSync(join(ROOT, "dist", "index.d.ts")) || !existsSync(join(ROOT, "dist", "index.js"))) {
  throw new Error("dist/ is missing: run `npm run build` first (the kernel imports the package by name, i.e. dist/)");
}
// "tslab-oauth" must resolve to this repository (scripts/link-self.mjs, run by `npm install`).
const linked = ((): string | undefined => {
  try {
    return realpathSync(join(ROOT, "node_modules", "tslab-oauth"));
  } catch {
    return undefined;
  }
})();
if (linked !== realpathSync(ROOT)) {
  const relink = spawnSync(process.execPath, [join(ROOT, "scripts", "link-self.mjs")], { encoding: "utf8" });
  if (relink.status !== 0) throw new Error(`node_modules/tslab-oauth does not point at this repository and link-self failed: ${relink.stderr}`);
}
if (spawnSync(PYTHON, ["-c", "import jupyter_client, zmq"], { stdio: "ignore" }).status !== 0) {
  throw new Error(`${PYTHON} cannot import jupyter_client: run \`sh scripts/install-system-deps.sh\` (apt), then the benchmark again`);
}

const tmp = mkdtempSync(join(tmpdir(), "tslab-oauth-import-cell-"));
// Inside the repository, so that module and type resolution walk up to its node_modules. Matches
// .gitignore's `.build-*/`; not the `.build/` folder the tests compile into.
const workdir = mkdtempSync(join(ROOT, ".build-import-cell-"));
const cleanup = (): void => {
  rmSync(workdir, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
};
process.once("exit", cleanup);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

let worker: KernelWorker | undefined;
let failures = 0;
try {
  const install = spawnSync(tslabBinary, ["install", "--python", PYTHON, "--binary", tslabBinary, "--prefix", tmp], { encoding: "utf8" });
  if (install.status !== 0) throw new Error(`tslab install failed: ${install.stderr || install.stdout}`);
  const runtimeDir = join(tmp, "runtime");
  worker = new KernelWorker(script, {
    ...process.env,
    JUPYTER_PATH: join(tmp, "share", "jupyter"),
    // Connection files in the temp folder, not in ~/.local/share/jupyter/runtime.
    JUPYTER_RUNTIME_DIR: runtimeDir,
  });
  const tslabVersion = (JSON.parse(readFileSync(join(ROOT, "node_modules", "tslab", "package.json"), "utf8")) as { version: string }).version;
  const samples = new Map<string, Sample[]>(CONTENDERS.map((c) => [c.name, []]));
  const failed = new Map<string, string>();

  /** One kernel: the contender's cell, the same again, the follow-up. Retries once a missing module. */
  const sample = async (contender: Contender): Promise<KernelAnswer & { error?: string }> => {
    for (let attempt = 1; ; attempt++) {
      const answer = await worker!.run(workdir, [contender.cell, contender.cell, FOLLOW_UP]);
      const bad = answer.failed ?? answer.cells?.find((cell) => cell.error)?.error ?? undefined;
      const wrong =
        !bad && answer.cells?.[0]?.stdout.trim() !== contender.expect
          ? `the cell printed ${JSON.stringify(answer.cells?.[0]?.stdout)} instead of ${JSON.stringify(contender.expect)}`
          : undefined;
      const error = bad ?? wrong;
      if (!error) return answer;
      const missing = /cannot find module|MODULE_NOT_FOUND|ERR_MODULE_NOT_FOUND|ENOENT/i;
      if (attempt === 1 && missing.test(error)) {
        const line = error.split("\n").find((l) => missing.test(l)) ?? error;
        progress(`${contender.name}: ${line.trim()} — dist/ may be mid-rebuild, retrying once in 2 s`);
        await new Promise((done) => setTimeout(done, 2000));
        continue;
      }
      return { ...answer, error };
    }
  };

  const started = performance.now();
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const order = CONTENDERS.map((_, i) => CONTENDERS[(i + round) % CONTENDERS.length]!);
    for (const contender of order) {
      if (failed.has(contender.name)) continue;
      const answer = await sample(contender);
      if (answer.error !== undefined) {
        failed.set(contender.name, answer.error);
        progress(`${contender.name}: FAILED: ${answer.error}`);
        continue;
      }
      const [first, second, followUp] = answer.cells!;
      progress(
        `round ${round < WARMUP ? `warm-up ${round + 1}` : round - WARMUP + 1}: ${contender.name}: first cell ${ms(first!.ms)}, again ${ms(second!.ms)}, then ${ms(followUp!.ms)} (kernel start ${ms(answer.startMs!)})`,
      );
      if (round < WARMUP) continue;
      samples.get(contender.name)!.push({ round, startMs: answer.startMs!, first: first!.ms, second: second!.ms, followUp: followUp!.ms });
    }
  }
  const elapsedS = (performance.now() - started) / 1000;

  // Report.
  const base = new Map(samples.get(BASELINE.name)!.map((s) => [s.round, s]));
  const rows = CONTENDERS.map((contender) => {
    const own = samples.get(contender.name)!;
    const ratios: number[] = [];
    const diffs: number[] = [];
    for (const s of own) {
      const pair = base.get(s.round);
      if (!pair) continue;
      ratios.push(s.first / pair.first);
      diffs.push(s.first - pair.first);
    }
    return {
      name: contender.name,
      cell: contender.cell,
      samples: own.length,
      failed: failed.get(contender.name),
      first: own.length ? stats(own.map((s) => s.first)) : undefined,
      ratioToBaseline: ratios.length ? stats(ratios) : undefined,
      differenceToBaseline: diffs.length ? stats(diffs) : undefined,
      second: own.length ? stats(own.map((s) => s.second)) : undefined,
      followUp: own.length ? stats(own.map((s) => s.followUp)) : undefined,
      kernelStart: own.length ? stats(own.map((s) => s.startMs)) : undefined,
    };
  });
  const lines = [
    `Node ${process.version}, tslab ${tslabVersion}, ${cpus().length} × ${cpus()[0]?.model.trim()}, ${new Date().toISOString().slice(0, 10)}; one fresh kernel per sample, ${ROUNDS} rounds after ${WARMUP} warm-up round(s), interleaved; ${elapsedS.toFixed(0)} s`,
    "",
    "First cell in a fresh tslab kernel (execute_request → reply and idle); × / − baseline = median of the per-round ratios / differences",
    "",
    "| contender | samples | first cell median | p90 | × baseline | − baseline | same cell again median / p90 | then `const y: number = 2; y` median / p90 | kernel start median |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) =>
      r.first
        ? `| ${r.name} | ${r.samples} | ${ms(r.first.median)} | ${ms(r.first.p90)} | ${r.ratioToBaseline!.median.toFixed(2)} × | ${r.name === BASELINE.name ? "" : `${r.differenceToBaseline!.median >= 0 ? "+" : ""}${ms(r.differenceToBaseline!.median)}`} | ${ms(r.second!.median)} / ${ms(r.second!.p90)} | ${ms(r.followUp!.median)} / ${ms(r.followUp!.p90)} | ${ms(r.kernelStart!.median)} |`
        : `| ${r.name} | 0 | FAILED | | | | | | |`,
    ),
    "",
    ...rows.map((r) => `- ${r.name}: \`${r.cell}\`${r.failed ? `. FAILED: ${r.failed}` : ""}`),
    `- p90 of ${ROUNDS} samples = the sample of rank ${Math.min(ROUNDS, Math.floor(0.9 * ROUNDS) + 1)} (smallest first); kernel start (process start → kernel_info answered, tslab's TypeScript program built) is not in any cell's time.`,
    "- the require() rows load the module without reading its .d.ts files (require() is `any` in a cell): import − require ≈ the cost of type-checking against the package's declarations.",
  ];
  console.log(lines.join("\n"));
  console.log("\nJSON:");
  console.log(
    JSON.stringify(
      {
        node: process.version,
        tslab: tslabVersion,
        cpus: cpus().length,
        date: new Date().toISOString(),
        rounds: ROUNDS,
        warmup: WARMUP,
        elapsedS,
        rows,
        samples: Object.fromEntries(samples),
      },
      (_key, value: unknown) => (typeof value === "number" ? Math.round(value * 1000) / 1000 : value),
      1,
    ),
  );
  failures = failed.size;
  if (failures > 0) {
    for (const [name, error] of failed) console.error(`\nimport-cell: ${name}: a cell failed:\n${error}`);
  }
} finally {
  await worker?.close();
  cleanup();
}
if (failures > 0) process.exitCode = 1;
