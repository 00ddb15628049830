"""The notifications bounded context."""
