"""Matching's server-rendered pages: the two-lists wall, a unit's page, the coordinator's desk."""
