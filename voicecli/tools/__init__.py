"""Tools talk runs on this machine: built-ins (time, reminders, arithmetic, units) and MCP
servers from ``config.toml`` (:class:`~voicecli.tools.runner.LocalTools`)."""
