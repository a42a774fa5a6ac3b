"""Benchmarks: scripts that measure and record numbers (docs/benchmarks.md), never assertions."""
