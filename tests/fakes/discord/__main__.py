"""``python -m tests.fakes.discord``: the fake on a port, with a demo guild."""

from .demo import main

main()
