"""Evaluation harness, datasets and benchmarks."""
