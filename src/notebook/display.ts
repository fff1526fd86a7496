/**
 * The kernel-neutral display: one entry in the running cell's output that later calls overwrite
 * in place (Jupyter's `display_data` then `update_display_data` with one display id). The cell
 * reporter shows a sign-in there and overwrites it with the outcome, so nothing of it stays in a
 * saved notebook. Each kernel has its own implementation; nothing else in the library knows which
 * kernel it runs in: `createReporter` asks each implementation in turn.
 */
export interface DisplayEntry {
  /** Replaces the entry's content with this HTML. Never throws. */
  html(markup: string): void;
  /** Resolves once what was shown has been handed to the kernel (Deno sends asynchronously). */
  flush?(): Promise<void>;
}

export interface KernelDisplay {
  /** A new, empty entry in the cell that is running now. */
  newEntry(): DisplayEntry;
}
