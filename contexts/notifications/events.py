"""Domain events the notifications context publishes: frozen, keyword-only dataclasses of plain values.

Standard library imports only: any context (or an extracted service) can read these without Django.
"""
