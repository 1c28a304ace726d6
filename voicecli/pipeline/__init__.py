"""The conversation: events, turn-taking, orchestration and the history store."""
