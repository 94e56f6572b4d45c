"""Wiring every service needs: bus, stores, relay, embedded nats-server, HTTP conventions."""
