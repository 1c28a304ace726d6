"""Voice activity: the Silero model (a probability per frame) and the endpointer (policy)."""
