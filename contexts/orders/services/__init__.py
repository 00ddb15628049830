"""Use cases that write, by sub-domain: the cart, checkout, and orders after checkout."""
