"""The two lists: what units and the community offer (资源清单) and need (需求清单)."""
