"""Cross-cutting HTTP, what the seed's API gateway did: request ids, problem+json, health, client IPs."""
