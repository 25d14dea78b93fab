"""The web dashboard under ``/dashboard/``: server-rendered pages of the tasks a caller may see.

``pages`` is a Flask app (the design's framework for pages; no TES operation goes through it)
that reads the same ``AsyncStore`` with the same plans and ownership as the TES operations,
and cancels through the same ``Context.cancel_task``. ``mount`` serves it inside the ASGI app,
behind the same guard (so the same authentication), through a2wsgi. Pages follow the change
feed at ``/dashboard/events`` with a small vendored-nothing script; nothing is fetched from
elsewhere and there is no build step.
"""
