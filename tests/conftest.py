"""Shared fixtures live in tests/fixtures/*; each area owns one plugin module."""

pytest_plugins = [
    "tests.fixtures.sandbox",
    "tests.fixtures.databases",
]
