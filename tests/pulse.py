"""A private PulseAudio server with a virtual microphone and speaker; the rig lives in the
package (``voicecli.bench.virtual_audio``) so the device-loop benchmark uses the same one."""

from voicecli.bench.virtual_audio import PulseAudio, start_pulseaudio

__all__ = ["PulseAudio", "start_pulseaudio"]
