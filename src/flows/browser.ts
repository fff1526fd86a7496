/**
 * Opening the sign-in page. Best effort: a browser that cannot be opened (no desktop, SSH) never
 * fails the login; the link stays on screen and the listener keeps waiting.
 */
const REMOTE_HINT = '. If your browser runs on another machine, use `flow: "device"` or beginLogin()';

export type OpenBrowserOption = boolean | ((url: string) => void | Promise<void>);

/** How the attempt went, for the cell: it says only what happened. */
export interface BrowserOutcome {
  opened(): void;
  failed(message: string): void;
}

/**
 * Opens `url` in the system browser (the `open` package: "resolves when the app is spawned"), or
 * hands it to the caller's function. The system launcher may still fail after it was spawned
 * (xdg-open exits 3 without a desktop): `failed` then follows `opened`.
 */
export async function openBrowser(url: string, option: OpenBrowserOption, outcome: BrowserOutcome, flow: "loopback" | "device" = "loopback"): Promise<void> {
  if (option === false) return;
  // In the device flow any browser anywhere will do: no advice to pick the flow already in use.
  const failed = (reason: string): void =>
    outcome.failed(
      flow === "device"
        ? `could not open a browser here (${reason}); open the link on any device that has one`
        : `could not open a browser (${reason}); open the link yourself${REMOTE_HINT}`,
    );
  try {
    if (typeof option === "function") {
      await option(url);
      outcome.opened();
      return;
    }
    const { default: open } = await import("open");
    const child = await open(url);
    child.once("error", (error) => failed(error.message));
    child.once("exit", (code) => {
      if (code) failed(launcherFailure(code));
    });
    outcome.opened();
  } catch (error) {
    failed((error as Error)?.message ?? String(error));
  }
}

/** Why the system's launcher (xdg-open and the like) failed, in a person's words, never its exit status. */
export function launcherFailure(code: number): string {
  // xdg-open: 3 = no tool to open it found (no desktop, no browser), 4 = the action failed.
  if (code === 3) return "no browser or desktop was found on this machine";
  return "the system could not start one";
}

/** The outcome reported to the cell: the waiting line follows it, and a failure says why. */
export function reportBrowser(reporter: { browser(state: "opened" | "failed"): void; event(message: string): void }): BrowserOutcome {
  return {
    opened: () => reporter.browser("opened"),
    failed: (message) => {
      reporter.browser("failed");
      reporter.event(message);
    },
  };
}
