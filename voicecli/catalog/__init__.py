"""Known models and where to find them: user path → drop-in folders → installed packages → hub."""
