import type { ResolvedConfig } from "./config.js";
import { NotebookReporter, kernelTslab } from "./notebook.js";
import { TerminalReporter, type LoginReporter } from "./report.js";

/** A notebook display inside a tslab kernel, stderr elsewhere. */
export function createReporter(config: Pick<ResolvedConfig, "quiet">): LoginReporter {
  const tslab = kernelTslab();
  return tslab ? new NotebookReporter(tslab, config.quiet) : new TerminalReporter();
}
