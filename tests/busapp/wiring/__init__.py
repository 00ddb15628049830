"""Miswired contexts, each a package as a real context would be, for the start-up error tests."""
