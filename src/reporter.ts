import { createHash } from "node:crypto";
import type { ResolvedConfig } from "./config.js";
import { NotebookReporter, kernelTslab } from "./notebook.js";
import { TerminalReporter, type LoginReporter } from "./report.js";

/** Secrets already warned about in this kernel, by hash (the warning is shown once). */
const warnedSecrets = new Set<string>();

/**
 * A notebook display inside a tslab kernel, stderr elsewhere. In a notebook, a client secret typed
 * into the call gets a one-time warning: it is published with the notebook.
 */
export function createReporter(config: Pick<ResolvedConfig, "quiet"> & Partial<Pick<ResolvedConfig, "secretInSource" | "clientSecret" | "profile">>): LoginReporter {
  const tslab = kernelTslab();
  if (!tslab) return new TerminalReporter();
  const reporter = new NotebookReporter(tslab, config.quiet);
  if (config.secretInSource && config.clientSecret) {
    const hash = createHash("sha256").update(config.clientSecret).digest("hex");
    if (!warnedSecrets.has(hash)) {
      warnedSecrets.add(hash);
      reporter.warn(secretInSourceWarning(config.profile));
    }
  }
  return reporter;
}

export function secretInSourceWarning(profile: string | undefined): string {
  const name = profile ?? "my-app";
  return (
    "The client secret is written in this notebook: whoever gets the notebook gets it too. Move it out, once, " +
    `in a terminal: \`npx tslab-oauth profile ${name} --client-secret -\` (it asks for the secret), then write \`profile: "${name}"\` here instead of \`clientSecret\`; ` +
    "or read it from the Jupyter server's environment: `clientSecret: process.env.MY_CLIENT_SECRET`."
  );
}
