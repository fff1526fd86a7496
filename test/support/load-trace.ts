// Preloaded with `--import` by the warm-path test: every module the process resolves after this
// (its URL or builtin name) is appended to the file named by $LOAD_TRACE_FILE, one per line. The
// hooks run on Node's loader thread, hence a file rather than a variable.
import { register } from "node:module";

register(new URL("./load-trace-hooks.js", import.meta.url));
