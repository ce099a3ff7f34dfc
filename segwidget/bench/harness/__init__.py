"""End-to-end harness: the real widget or page in headless Chromium with a fake webcam.

Used by the end-to-end tests (``tests/e2e``), ``tests/test_nodelay.py`` and
``segwidget bench --e2e`` (:mod:`segwidget.bench.e2e`). Nothing here is imported by the
package itself; it needs the ``dev`` extra (Playwright, JupyterLab, Voila) and Debian's
Chromium at run time, and says so (:func:`missing_requirements`) when they are missing.

- :mod:`.video`: the fake webcam clip (YUV4MPEG2 from real photos) and its frames;
- :mod:`.jupyter`: :class:`JupyterServer` (lab, notebook, voila or a bare server),
  :func:`kernel_round_trips`;
- :mod:`.kernel_probe`: :class:`KernelProbe` (a second client on a notebook's kernel, every
  wait with its own deadline);
- :mod:`.browser`: Chromium launch with the fake camera, lossless canvas reading;
- :mod:`.host`: :class:`WidgetHost` (a notebook open and run in a host) and
  :class:`SegWidgetPage` (a running ``SegWidget`` seen from the kernel and the page);
- :mod:`.pixels`: which pixels are video and which the renderer's composite;
- :mod:`.checks`: assertions shared by the hosts' tests;
- :mod:`.procstat`: CPU time per process from ``/proc`` (:class:`CpuMeter`).
"""

from .browser import (
    CHROMIUM_ARGS,
    JS_LIVE_TRACKS,
    JS_RECORD_STREAMS,
    colour_fraction,
    decode_data_url,
    launch_chromium,
    palette_fraction,
    read_canvas,
)
from .host import WIDGET_CELLS, WIDGET_SELECTOR, SegWidgetPage, WidgetHost
from .jupyter import (
    HOST_MODULE,
    HOSTS,
    NODELAY_OFF,
    JupyterServer,
    execute_request,
    kernel_round_trips,
    write_notebook,
)
from .kernel_probe import KernelError, KernelProbe
from .pixels import Explained, composite, explain, voc_palette
from .procstat import CpuMeter
from .util import (
    PACKAGE_PARENT,
    chromium_path,
    free_port,
    missing_module,
    missing_requirements,
    wait_until,
)
from .video import (
    FakeVideo,
    default_fake_video,
    i420_to_rgb,
    make_fake_video,
    rgb_to_i420,
    sample_photos,
)

__all__ = [
    "CHROMIUM_ARGS",
    "HOSTS",
    "HOST_MODULE",
    "JS_LIVE_TRACKS",
    "JS_RECORD_STREAMS",
    "NODELAY_OFF",
    "PACKAGE_PARENT",
    "WIDGET_CELLS",
    "WIDGET_SELECTOR",
    "CpuMeter",
    "Explained",
    "FakeVideo",
    "JupyterServer",
    "KernelError",
    "KernelProbe",
    "SegWidgetPage",
    "WidgetHost",
    "chromium_path",
    "colour_fraction",
    "composite",
    "decode_data_url",
    "default_fake_video",
    "execute_request",
    "explain",
    "free_port",
    "i420_to_rgb",
    "kernel_round_trips",
    "launch_chromium",
    "make_fake_video",
    "missing_module",
    "missing_requirements",
    "palette_fraction",
    "read_canvas",
    "rgb_to_i420",
    "sample_photos",
    "voc_palette",
    "wait_until",
    "write_notebook",
]
