"""Fakes for tests, benchmarks and the demo: synthetic talking heads, a local media server, random-init weight files."""
