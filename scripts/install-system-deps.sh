#!/bin/sh
# Installs the system parts the notebook and browser tests need, from Debian's packages:
# Jupyter (notebook, nbconvert, nbclient, ipykernel) and Chromium. Idempotent; needs root or sudo.
set -eu
need=""
command -v jupyter >/dev/null 2>&1 && /usr/bin/python3 -c "import nbclient, jupyter_client" 2>/dev/null || need="$need jupyter-notebook jupyter-nbconvert python3-nbclient python3-ipykernel"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
if [ -z "$need" ]; then
  echo "install-system-deps: Jupyter and Chromium are already installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-system-deps: installing$need"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
