"""Benchmarks: `python benchmarks/bench_<name>.py [--quick]`, run together by `make bench`."""
