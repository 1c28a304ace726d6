#!/usr/bin/env bash
# One full spoken exchange on the bundled defaults: examples/question.wav is played into
# `voicecli talk` in real time, as a microphone would; the spoken reply goes to demo-reply.wav.
set -euo pipefail
cd "$(dirname "$0")/.."
VOICECLI=.venv/bin/voicecli
mode=()
[ -t 1 ] || mode=(--plain)   # the live screen needs a terminal
"$VOICECLI" talk --input examples/question.wav --output demo-reply.wav --no-history "${mode[@]}"
echo
echo "The assistant's spoken reply is in demo-reply.wav. Talk for real with:"
echo "  source .venv/bin/activate && voicecli talk"
