"""Adversarial tests: hostile servers, hostile callers, and secret hygiene across every flow."""
