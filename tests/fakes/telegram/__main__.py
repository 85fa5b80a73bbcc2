"""``python -m tests.fakes.telegram``: the fake on a port, with a demo world."""

from .process import main

raise SystemExit(main())
