"""Matching of resource lists (资源清单) and demand lists (需求清单).

Proposes and tracks matches; arrives with the two-lists issue.
"""
