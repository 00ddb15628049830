"""The shipping context's service interface: the only door other contexts may use besides its events."""
