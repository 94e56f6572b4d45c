"""Notify: tells the right people at once (SSE, webhook, email). Arrives with its issue."""
