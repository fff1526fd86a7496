/**
 * Opening the sign-in page. Best effort: a browser that cannot be opened (no desktop, SSH) never
 * fails the login; the link stays on screen and the listener keeps waiting.
 */
const REMOTE_HINT = '. If your browser runs on another machine, use `flow: "device"` or beginLogin()';

export type OpenBrowserOption = boolean | ((url: string) => void | Promise<void>);

export async function openBrowser(url: string, option: OpenBrowserOption, onProblem: (message: string) => void): Promise<void> {
  if (option === false) return;
  try {
    if (typeof option === "function") {
      await option(url);
      return;
    }
    const { default: open } = await import("open");
    const child = await open(url);
    child.once("error", (error) => onProblem(`could not open a browser (${error.message}); open the link yourself${REMOTE_HINT}`));
    child.once("exit", (code) => {
      if (code) onProblem(`could not open a browser (the launcher exited with ${code}); open the link yourself${REMOTE_HINT}`);
    });
  } catch (error) {
    onProblem(`could not open a browser (${(error as Error)?.message ?? String(error)}); open the link yourself${REMOTE_HINT}`);
  }
}
