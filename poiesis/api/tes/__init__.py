"""The TES operations: what each of the five does, over the store and the backend it is given.

``operations`` holds the handlers; ``context`` what they work with; ``validate``,
``fileurls`` and ``tokens`` the rules of a task and a page token; ``compat`` the one TES
1.0 route still served. Nothing here reads headers or bodies: the request reaches an
operation already checked by ``poiesis.api.hardening`` and Connexion.
"""
