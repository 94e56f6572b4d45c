"""Matches: counterparts proposed for a need with reasons, and their lifecycle."""
