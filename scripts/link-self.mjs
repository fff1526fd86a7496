// Makes `import ... from "tslab-oauth"` resolve inside this repository, as it does for users: the
// notebooks under notebooks/ import the package by name (tslab cannot import ../src), and Node
// and TypeScript find it through node_modules/tslab-oauth -> .. (the built dist/).
import { lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const link = join(root, "node_modules", "tslab-oauth");
mkdirSync(dirname(link), { recursive: true });
let current;
try {
  current = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : "not a link";
} catch {
  current = undefined;
}
if (current !== "..") {
  if (current !== undefined) rmSync(link, { recursive: true, force: true });
  symlinkSync("..", link, "dir");
}
