"""Benchmarks: scripts that print timing tables (never run as tests)."""
