"""Development tools of the repository (``scripts/spec-diff``), never installed.

Nothing in ``poiesis`` imports from here: the runtime package must not depend
on files that only a checkout has (``openapi/``, ``reference/``).
"""
