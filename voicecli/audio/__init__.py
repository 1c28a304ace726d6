"""Audio formats, decoding, resampling, devices, sources and sinks.

Only :mod:`voicecli.audio.devices` imports sounddevice."""
