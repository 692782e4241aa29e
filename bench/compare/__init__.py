"""Helpers of ``bench/compare_storm.py``: token files, the raw OAuth calls, the library workers."""
