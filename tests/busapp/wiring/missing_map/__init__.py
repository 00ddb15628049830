"""A context whose handlers module misspells SUBSCRIPTIONS: it must not start deaf."""
