#!/usr/bin/env bash
# Installs the Debian packages the project runs with, only when something is missing:
# chromium + chromium-driver (Selenium path), redis-server (shared frontier in the demo and tests).
# Used by `make` and by the Docker image. Safe to run again: it does nothing when all is present.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "error: the packages ${need[*]} are missing and this user is not root and has no password-less sudo." >&2
  echo "       Ask an administrator to run: apt-get install -y ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
