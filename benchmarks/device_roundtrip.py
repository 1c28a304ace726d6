"""The device path's own delay: a tone written into a sounddevice output stream on the virtual
loudspeaker comes back through a PulseAudio loopback (``spk.monitor`` → the virtual microphone)
into a sounddevice input stream; round trip = capture time of its first loud sample − the time
it was handed to the output callback (median of 12 tones). The loopback's own delay is the same
for every configuration, so compare configurations, not absolute figures. Each configuration
runs in its own process (PortAudio reads the PulseAudio environment at start).

    python benchmarks/device_roundtrip.py                       # talk's blocks and the alternatives
    python benchmarks/device_roundtrip.py --config 256:20 --config 512:20

A configuration is ``INPUT_BLOCK_SAMPLES:OUTPUT_BLOCK_MS`` (16 kHz input, 22.05 kHz output as
Piper's voice). Needs pulseaudio and pulseaudio-utils (``make test`` installs them).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IN_RATE_HZ = 16000
OUT_RATE_HZ = 22050
TONES = 12
DEFAULT_CONFIGS = ("512:20", "256:20", "512:10", "256:10")


def measure(in_block: int, out_block_ms: float) -> list[float]:
    """In the child: round trips in ms."""
    import numpy as np
    import sounddevice as sd

    sent: list[float] = []
    heard: list[float] = []
    due = [time.monotonic() + 1.0]

    def out_cb(out: np.ndarray, frames: int, _t: object, _s: object) -> None:
        out[:] = 0
        now = time.monotonic()
        if now >= due[0] and len(sent) < TONES:
            out[:, 0] = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(frames) / OUT_RATE_HZ)
            sent.append(now)
            due[0] = now + 0.7

    def in_cb(data: np.ndarray, frames: int, _t: object, _s: object) -> None:
        now = time.monotonic()
        loud = np.flatnonzero(np.abs(data[:, 0]) > 0.05)
        if loud.size and (not heard or now - heard[-1] > 0.4):
            heard.append(now - (frames - loud[0]) / IN_RATE_HZ)  # capture time of that sample

    mic = sd.InputStream(samplerate=IN_RATE_HZ, channels=1, blocksize=in_block, dtype="float32", callback=in_cb)
    spk = sd.OutputStream(samplerate=OUT_RATE_HZ, channels=1, blocksize=int(OUT_RATE_HZ * out_block_ms / 1000),
                          dtype="float32", callback=out_cb, latency="low")
    mic.start()
    spk.start()
    time.sleep(1.5 + 0.7 * TONES)
    mic.stop()
    spk.stop()
    trips = []
    for t in sent:
        later = [h for h in heard if t < h < t + 0.6]
        if later:
            trips.append((later[0] - t) * 1000)
    return trips


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", action="append", help="INPUT_BLOCK_SAMPLES:OUTPUT_BLOCK_MS (repeatable)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(" ".join(f"{t:.1f}" for t in measure(int(a.child[0]), float(a.child[1]))))
        return
    sys.path.insert(0, str(ROOT))
    import statistics

    from voicecli.bench.virtual_audio import start_pulseaudio

    with start_pulseaudio() as pa:
        pa.load_module("module-loopback", "source=spk.monitor", "sink=micsink", "latency_msec=1")
        print("| input block | output block | round trip, median of tones |\n|---:|---:|---:|")
        for config in a.config or DEFAULT_CONFIGS:
            in_block, out_ms = config.split(":")
            out = subprocess.run([sys.executable, __file__, "--child", in_block, out_ms], env=pa.env,
                                 capture_output=True, text=True, check=True).stdout.split()
            trips = [float(x) for x in out]
            figure = f"{statistics.median(trips):.0f} ms ({len(trips)} tones)" if trips else "no tone came back"
            print(f"| {in_block} samples | {out_ms} ms | {figure} |", flush=True)


if __name__ == "__main__":
    main()
