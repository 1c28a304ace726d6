"""voicecli: a local voice assistant — talk, transcribe, bench, serve. Everything runs offline."""

__version__ = "0.1.0"
