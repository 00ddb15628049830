"""The shipping bounded context."""
