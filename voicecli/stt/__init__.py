"""Speech-to-text: one module per backend behind the :class:`Transcriber` protocol."""
