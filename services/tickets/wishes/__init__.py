"""Micro-wishes (微心愿): a resident's small wish, verified by staff, claimed and fulfilled by
member units, acknowledged by the resident. One of the tickets service's three peers."""
