"""Benchmarks: scripts that measure how fast Breachroom does its heavy work (`python -m bench.NAME`)."""
