"""The users bounded context."""
