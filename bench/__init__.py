"""Benchmarks of the awel engine (run ``python bench/engine.py``)."""
