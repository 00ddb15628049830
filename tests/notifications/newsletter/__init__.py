"""A marketing message for the tests: no context publishes one yet, so the tests declare their own."""
