"""The change feed: task events as Server-Sent Events, an extension beside the TES API.

``events`` holds the pure parts (the query, which events a subscriber wants, the SSE frames),
``hub`` the one reader per API worker that fans new events out to its subscribers, ``route``
the ASGI route that streams them. The events are rows PostgreSQL writes with every state
change (store migration 0010); nothing here writes. docs/api.md, "The change feed", is the
contract.
"""
