"""The sandbox's HTTP routes, one module per endpoint family."""
