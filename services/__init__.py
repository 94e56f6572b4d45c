"""Shiliu's services; each imports only `events` and `services.runtime`, never another service."""
