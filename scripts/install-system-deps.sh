#!/usr/bin/env bash
# System packages the tests need: PortAudio for sounddevice, PulseAudio for virtual microphones
# and speakers, espeak-ng/sox/ffmpeg for making and measuring audio, tmux for driving the TUI,
# Chromium for the browser page, libspeexdsp for echo cancellation, HAProxy for the deploy recipe
# test, Node.js and npm for the OpenAI Node SDK test (not when Node already comes from elsewhere,
# e.g. NodeSource). Installs only what is missing.
set -euo pipefail
pkgs=(libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins espeak-ng sox tmux ffmpeg libspeexdsp1 chromium haproxy)
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "system packages: all present"; exit 0; }
echo "installing system packages: ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
command -v apt-get >/dev/null || { echo "error: apt-get not found; install ${missing[*]} with your package manager" >&2; exit 1; }
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
