"""cdconnect: connect Central Dispatch accounts once, keep their tokens alive safely."""

__version__ = "0.1.0"
