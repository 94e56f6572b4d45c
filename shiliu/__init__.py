"""The `shiliu` command: the embedded default, one service at a time, and operator tools."""
