"""Matching (资源清单 resource lists ↔ 需求清单 demand lists): proposes and tracks matches. Arrives with the two-lists issue."""
