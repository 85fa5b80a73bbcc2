"""Crash and fault suites: the fakes in processes of their own, the real bot, and what they
need to drive and observe each other (see ``harness`` and ``servers``)."""
