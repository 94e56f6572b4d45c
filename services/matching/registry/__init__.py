"""The member-unit registry: units, their alliance membership and co-building agreements."""
