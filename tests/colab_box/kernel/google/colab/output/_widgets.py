"""Where the widget manager lives, and the display hook that names it in every widget output
(as Colab's ``google.colab.output._widgets`` does once the custom manager is enabled: with
ipywidgets 7 a widget displays itself through ``_ipython_display_``, without metadata).

The URL has Colab's form; the box's browser routes it to the locally built manager
(build/colab-box/manager.js)."""

from __future__ import annotations

from typing import Any

MANAGER_URL = (
    "https://ssl.gstatic.com/colaboratory-static/widgets/colab-cdn-widget-manager/"
    "472880a4c0722633b15d82359ffd4ecfec027827/manager.min.js"
)
WIDGET_MIME_TYPE = "application/vnd.jupyter.widget-view+json"
_installed_url: str | None = None
_hooked = False


def _install_custom_widget_manager(url: str | None) -> None:
    global _installed_url, _hooked
    _installed_url = url
    if _hooked:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_pub"):
        shell.display_pub.register_hook(_widget_display_hook)
        _hooked = True


def _widget_display_hook(msg: dict[str, Any]) -> dict[str, Any]:
    content = msg.get("content") or {}
    if _installed_url and WIDGET_MIME_TYPE in (content.get("data") or {}):
        metadata = content.setdefault("metadata", {})
        metadata[WIDGET_MIME_TYPE] = {"colab": {"custom_widget_manager": {"url": _installed_url}}}
    return msg
