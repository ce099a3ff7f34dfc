"""Benchmarks and the end-to-end harness (not imported by the package itself).

- :mod:`.model`: ``segwidget bench``, model speed per profile and backend;
- :mod:`.e2e`: ``segwidget bench --e2e``, the widget or page in headless Chromium;
- :mod:`.harness`: the browser harness both the e2e bench and ``tests/e2e`` use;
- :mod:`.targets`: the small-machine targets ``--e2e`` prints, each figure against its limit.
"""
