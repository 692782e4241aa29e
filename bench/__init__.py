"""Benchmarks: each module prints figures and writes ``bench/results/<name>.json``."""
