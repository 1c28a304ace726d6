"""The typer CLI: a thin adapter over the library."""
