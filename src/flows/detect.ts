import { existsSync } from "node:fs";

/**
 * Does the kernel run where the user's browser cannot reach its loopback address? A loopback
 * redirect then never arrives (the most reported failure of loopback sign-in tools), so `flow:
 * "auto"` prefers the device grant. Returns why the kernel looks remote, or undefined if it looks
 * local. Only environment variables and two container marker files are read.
 */
export function remoteReason(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  exists: (path: string) => boolean = existsSync,
): string | undefined {
  if (env.SSH_CONNECTION || env.SSH_CLIENT || env.SSH_TTY) return "the kernel runs in an SSH session ($SSH_CONNECTION)";
  const hub = Object.keys(env).find((key) => key.startsWith("JUPYTERHUB_"));
  if (hub) return `the kernel runs on JupyterHub ($${hub})`;
  if (env.CODESPACES === "true") return "the kernel runs in GitHub Codespaces ($CODESPACES)";
  const colab = Object.keys(env).find((key) => key.startsWith("COLAB_"));
  if (colab) return `the kernel runs on Colab ($${colab})`;
  if (env.VSCODE_REMOTE_CONTAINERS_SESSION || env.REMOTE_CONTAINERS || env.VSCODE_AGENT_FOLDER) return "the kernel runs behind a VS Code remote connection";
  if (env.KUBERNETES_SERVICE_HOST) return "the kernel runs in Kubernetes ($KUBERNETES_SERVICE_HOST)";
  // $BROWSER names a browser command that works from here: a container or a machine without a
  // display that has one (a forwarding script, a test harness) opens pages itself.
  if (env.BROWSER) return undefined;
  if (exists("/.dockerenv") || exists("/run/.containerenv")) return "the kernel runs in a container";
  // A Linux machine without a display has no browser of its own.
  if (platform === "linux" && !env.DISPLAY && !env.WAYLAND_DISPLAY) {
    return "this Linux machine has no display ($DISPLAY and $WAYLAND_DISPLAY are unset)";
  }
  return undefined;
}
