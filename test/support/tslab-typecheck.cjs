// Type-checks every code cell of the notebooks given, in order, with tslab's own converter (its
// bundled TypeScript 5.0, node10 resolution, CommonJS output): the check a tslab kernel runs
// before executing a cell. Run with the notebook's folder as the working directory, as the kernel
// has. Prints one JSON line per notebook: { file, errors: ["cell N L:C message"] }.
const fs = require("node:fs");
const path = require("node:path");
const { createConverter } = require("tslab/dist/converter.js");

for (const file of process.argv.slice(2)) {
  const nb = JSON.parse(fs.readFileSync(file, "utf8"));
  const converter = createConverter();
  const errors = [];
  let prevDecl = "";
  nb.cells.forEach((cell, index) => {
    if (cell.cell_type !== "code") return;
    const source = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    const result = converter.convert(prevDecl, source);
    if (result.diagnostics.length > 0) {
      for (const d of result.diagnostics) errors.push(`cell ${index} ${d.start.line + 1}:${d.start.character + 1} ${d.messageText}`);
    } else {
      prevDecl = result.declOutput || "";
    }
  });
  converter.close();
  process.stdout.write(JSON.stringify({ file: path.basename(file), errors }) + "\n");
}
