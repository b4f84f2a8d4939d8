"""Benchmarks run in the page or natively: single ops, and the whole model."""
