"""End-to-end modules use the session ``stack`` fixture from ``tests/conftest.py`` (shared with ``tests/web``:
one local stack per xdist worker, the modules marked ``xdist_group("local_stack")`` all run on it)."""
