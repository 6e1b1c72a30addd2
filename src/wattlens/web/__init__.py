"""``wattlens serve``: a read-only results page and JSON API over a results store, and the exports that let results
travel (AI Energy Score submission files, ML.ENERGY-like JSON).

Layout: :mod:`~wattlens.web.views` builds every API answer (a typed record) from the results-query layer
(:mod:`wattlens.report.query`); :mod:`~wattlens.web.app` is the Starlette application (pages, ``/api/``, the
shipped static files: the page's script and uPlot, MIT, vendored in ``static/``); :mod:`~wattlens.web.server` binds
and runs it with uvicorn; :mod:`~wattlens.web.cache` keeps what was computed until the store changes;
:mod:`~wattlens.web.aiesc` and :mod:`~wattlens.web.mlenergy` write the exports (stdlib only).

Importing this package imports nothing else; Starlette and uvicorn are the ``web`` extra, needed only to serve::

    from wattlens.store import open_store
    from wattlens.web.server import open_server

    store = open_store("wattlens.sqlite", read_only=True)
    with open_server(store, port=0) as server:     # a background thread; server.url is the page
        print(server.url)
"""
