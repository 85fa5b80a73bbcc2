"""newsbot's benchmarks: `make bench` (full scale) or `python -m bench --quick`."""
