"""``segwidget serve``: the standalone page and the WebSocket API on FastAPI + uvicorn.

Routes: ``/`` the page (``segwidget/static/index.html``), ``/static/...`` the package's own
static files, ``/ws`` the WebSocket (the spec's JSON protocol, or the binary protocol after
``init`` with ``"binary": true``; see docs/API_REFERENCE.md), ``/healthz`` and ``/api/info``.

- :mod:`.config`: :class:`~.config.ServerConfig` and the ``segwidget serve`` options;
- :mod:`.connection`: one ``/ws`` client (admission, parsing, its Session, sending) and the
  state connections share;
- :mod:`.spec`: the spec protocol's JSON replies and composite PNGs;
- :mod:`.app`: the FastAPI routes, with the token / Origin / Host checks;
- :mod:`.background`: the server on a thread of this process (notebooks, tests, benchmarks);
- :mod:`.tunnels`: ngrok and Colab's port proxy (also used by :mod:`segwidget.colab`);
- :mod:`.serve`: ``segwidget serve`` itself (also ``python -m segwidget.server``).

Nothing is imported here, so :mod:`.tunnels` (and :mod:`segwidget.colab`) work without
the ``server`` extra; import from the modules.
"""
