"""The HTTP shell around the TES operations: everything checked before a handler runs.

``protocol`` (header deadline and size, in uvicorn's parser), ``guard`` (Host, hostile
path/query/body text, Origin, credentials through ``auth``, body bounds), ``limits``
(counts and sizes of a task), ``parameters`` and ``nulls`` (Connexion's validators, made
cheap and tolerant of null members) and ``principal`` (who is calling). Must not: touch the
store or a backend.
"""
