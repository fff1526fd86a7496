import { existsSync } from "node:fs";

/**
 * Does the kernel (or, in a terminal, this process: `subject`) run where the user's browser cannot
 * reach its loopback address? A loopback
 * redirect then never arrives (the most reported failure of loopback sign-in tools), so `flow:
 * "auto"` prefers the device grant. Returns why the kernel looks remote, or undefined if it looks
 * local. Only environment variables and two container marker files are read.
 */
export function remoteReason(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  exists: (path: string) => boolean = existsSync,
  subject = "the kernel",
): string | undefined {
  if (env.SSH_CONNECTION || env.SSH_CLIENT || env.SSH_TTY) return `${subject} runs in an SSH session ($SSH_CONNECTION)`;
  const hub = Object.keys(env).find((key) => key.startsWith("JUPYTERHUB_"));
  if (hub) return `${subject} runs on JupyterHub ($${hub})`;
  if (env.CODESPACES === "true") return `${subject} runs in GitHub Codespaces ($CODESPACES)`;
  const colab = Object.keys(env).find((key) => key.startsWith("COLAB_"));
  if (colab) return `${subject} runs on Colab ($${colab})`;
  if (env.VSCODE_REMOTE_CONTAINERS_SESSION || env.REMOTE_CONTAINERS || env.VSCODE_AGENT_FOLDER) return `${subject} runs behind a VS Code remote connection`;
  if (env.KUBERNETES_SERVICE_HOST) return `${subject} runs in Kubernetes ($KUBERNETES_SERVICE_HOST)`;
  // $BROWSER names a browser command that works from here: a container or a machine without a
  // display that has one (a forwarding script, a test harness) opens pages itself.
  if (env.BROWSER) return undefined;
  if (exists("/.dockerenv") || exists("/run/.containerenv")) return `${subject} runs in a container`;
  // A Linux machine without a display has no browser of its own.
  if (platform === "linux" && !env.DISPLAY && !env.WAYLAND_DISPLAY) {
    return "this Linux machine has no display ($DISPLAY and $WAYLAND_DISPLAY are unset)";
  }
  return undefined;
}
