"""Text-to-speech: Piper adapter, text normalisation for speech, sentence/clause chunking."""
