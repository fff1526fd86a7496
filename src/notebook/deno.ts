import type { DisplayEntry, KernelDisplay } from "./display.js";

/**
 * The display in Deno's Jupyter kernel (`deno jupyter`), the only module that talks to it. It
 * sends raw iopub messages with `Deno.jupyter.broadcast`: `display_data` once, then
 * `update_display_data` with the same `transient.display_id`, which replaces the entry in place
 * (from a later cell or a timer too). Reading `Deno.jupyter` outside the kernel throws, so it is
 * read inside a try.
 */
interface DenoJupyter {
  broadcast(msgType: string, content: Record<string, unknown>, extra?: Record<string, unknown>): Promise<void> | void;
}

function denoJupyter(): DenoJupyter | undefined {
  const deno = (globalThis as { Deno?: Record<string, unknown> }).Deno;
  if (!deno || typeof deno !== "object") return undefined;
  try {
    const jupyter = deno.jupyter as Partial<DenoJupyter> | undefined;
    return typeof jupyter?.broadcast === "function" ? (jupyter as DenoJupyter) : undefined;
  } catch {
    return undefined; // Deno outside `deno jupyter`
  }
}

let entries = 0;

export function denoDisplay(): KernelDisplay | undefined {
  const jupyter = denoJupyter();
  if (!jupyter) return undefined;
  return {
    newEntry(): DisplayEntry {
      const displayId = `tslab-oauth-${process.pid}-${Date.now().toString(36)}-${++entries}`;
      let shown = false;
      let last: Promise<void> = Promise.resolve();
      return {
        html(markup: string): void {
          const type = shown ? "update_display_data" : "display_data";
          shown = true;
          try {
            const sent = jupyter.broadcast(type, { data: { "text/html": markup, "text/plain": "" }, metadata: {}, transient: { display_id: displayId } });
            last = Promise.resolve(sent).catch(() => {});
          } catch {
            // The kernel is shutting down: nothing left to show it in.
          }
        },
        // Deno's kernel can report a cell idle before the cell's last output: the call that ends a
        // sign-in waits for its own messages to be sent.
        flush: () => last,
      };
    },
  };
}
