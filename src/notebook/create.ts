import { createHash } from "node:crypto";
import type { ResolvedConfig } from "../options/types.js";
import { NotebookReporter } from "./cell.js";
import type { KernelDisplay } from "./display.js";
import type { LoginReporter } from "./reporter.js";
import { TerminalReporter } from "./terminal.js";
import { denoDisplay } from "./deno.js";
import { tslabDisplay } from "./tslab.js";

/** The display of the kernel this runs in, or undefined outside a notebook kernel. */
function kernelDisplay(): KernelDisplay | undefined {
  return tslabDisplay() ?? denoDisplay();
}

/** Whether this runs in a notebook kernel with a display (messages then speak of "the kernel"). */
export function inNotebook(): boolean {
  return kernelDisplay() !== undefined;
}

/** Secrets already warned about in this kernel, by hash (the warning is shown once). */
const warnedSecrets = new Set<string>();

/**
 * The cell's display inside a notebook kernel, stderr elsewhere. In a notebook, a client secret typed
 * into the call gets a one-time warning: it is published with the notebook.
 */
export function createReporter(
  config: Pick<ResolvedConfig, "quiet"> &
    Partial<Pick<ResolvedConfig, "secretInSource" | "clientSecret" | "profile" | "clientId" | "issuerId" | "tokenEndpoint">>,
): LoginReporter {
  const display = kernelDisplay();
  if (!display) return new TerminalReporter();
  const reporter = new NotebookReporter(display, config.quiet);
  if (config.secretInSource && config.clientSecret) {
    const hash = createHash("sha256").update(config.clientSecret).digest("hex");
    if (!warnedSecrets.has(hash)) {
      warnedSecrets.add(hash);
      reporter.warn(secretInSourceWarning(config));
    }
  }
  return reporter;
}

function secretInSourceWarning(config: Partial<Pick<ResolvedConfig, "profile" | "clientId" | "issuerId" | "tokenEndpoint">>): string {
  const name = config.profile ?? "my-app";
  // The command that moves it out, complete but for the secret (typed at its prompt).
  const server = config.issuerId ? ` --issuer ${config.issuerId}` : config.tokenEndpoint ? " --preset ... (or the endpoints)" : "";
  const command = `npx tslab-oauth profile ${name}${server} --client-id ${config.clientId ?? "..."} --client-secret -`;
  return (
    "The client secret is written in this notebook: whoever gets the notebook gets it too. Move it out, once, " +
    `in a terminal: \`${command}\` (it asks for the secret), then write \`login({ profile: "${name}" })\` here; ` +
    "or read it from the Jupyter server's environment: `clientSecret: process.env.MY_CLIENT_SECRET`."
  );
}
