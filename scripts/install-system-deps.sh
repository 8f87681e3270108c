#!/usr/bin/env bash
# Debian packages the tests and examples use, installed only where missing:
# - dataset-fashion-mnist: the real data set (gzip IDX under /usr/share/datasets/fashion-mnist);
# - mesa-vulkan-drivers >= 25 from bookworm-backports: lavapipe, a CPU Vulkan device that lets
#   the WebGPU backend (Dawn) run its correctness tests without a GPU. Debian 12's own mesa 22 is
#   rejected by Dawn. The backports source is derived from the Debian source apt already has,
#   so no mirror is named here.
set -euo pipefail
[ "$(id -u)" = 0 ] && SUDO="" || SUDO="sudo"

need=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(fashion)
[ -f /usr/share/vulkan/icd.d/lvp_icd.json ] && dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q '^2[5-9]' || need+=(lavapipe)
[ ${#need[@]} -eq 0 ] && { echo "system deps: present"; exit 0; }

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system deps: not a Debian system; install dataset-fashion-mnist and mesa-vulkan-drivers (>= 25) yourself" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [[ " ${need[*]} " == *" fashion "* ]]; then
  $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
if [[ " ${need[*]} " == *" lavapipe "* ]]; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Keep the stanza that carries the main suite, with the suite changed to backports.
    awk -v cn="$codename" 'BEGIN { RS = ""; ORS = "\n\n" }
      $0 ~ ("Suites: " cn "( |\n|$)") { sub(/Suites:[^\n]*/, "Suites: " cn "-backports"); print }' \
      "$src" | $SUDO tee /etc/apt/sources.list.d/mtd-backports.sources >/dev/null
    $SUDO apt-get update -qq
  fi
  $SUDO apt-get install -y -qq -t "${codename}-backports" mesa-vulkan-drivers >/dev/null
fi
echo "system deps: installed ${need[*]}"
