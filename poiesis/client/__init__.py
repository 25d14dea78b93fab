"""``poiesis task …``: a command-line TES client for people and scripts.

``http`` talks to any TES v1.1 server, ``spec`` turns command-line words
and task files into tesTask documents, ``render`` prints tables or JSON,
``cli`` parses the subcommands and maps task states to exit codes. Needs
nothing of the server side (no store, no backend).
"""
