"""Reach the running app: Jobdeck's local HTTP API, its live event stream and the board page.

The running app (the desktop app or ``jobdeck serve``) serves the API on its asyncio (qasync)
loop with aiohttp: always on a Unix socket in the user's private runtime directory, and on
a localhost TCP port with a bearer token when asked. The ``jobdeck`` command is a client of
it (:mod:`.client`, standard library only).

Modules: :mod:`.paths` (where a store's socket and token live), :mod:`.token_file`,
:mod:`.jsonify` (a job as JSON), :mod:`.lookup` (ids and id prefixes), :mod:`.hub` (tracker
events onto the loop, resumable), :mod:`.sse` (the event stream), :mod:`.routes` and
:mod:`.logs` (the JSON endpoints), :mod:`.auth` (who may ask), :mod:`.server`
(:class:`~.server.ApiServer`), :mod:`.client` and :mod:`.launch` (the CLI's side). Importing
this package imports nothing else: the client must start fast and never import Qt.
"""
