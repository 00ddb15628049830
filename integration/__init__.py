"""The seams every context uses: event bus, service registry, resilience, edge. Imports no context."""
