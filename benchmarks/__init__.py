"""Shunter's benchmarks: ``python -m benchmarks`` (``make bench``) measures, prints and
writes ``BENCHMARKS.md``. They are measurements, not tests: nothing here asserts a time.
"""
