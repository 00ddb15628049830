"""Domain events the payments context publishes: frozen, keyword-only dataclasses of plain values.

Standard library imports only: any context (or an extracted service) can read these without Django.
"""
