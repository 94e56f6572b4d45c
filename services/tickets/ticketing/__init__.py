"""Tickets (居民点单—社区派单—单位接单—群众评单): requests routed, dispatched, resolved, rated."""
