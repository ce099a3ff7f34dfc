"""The Colab box's stand-in for ``google.colab.output``: what anywidget uses of it.

anywidget takes its Colab path when ``google.colab.output`` is in ``sys.modules`` (the box's
kernel imports this at start, as Colab's runtime does): it calls
:func:`enable_custom_widget_manager`, after which each widget output's metadata names
``_widgets._installed_url`` (anywidget's own ``_repr_mimebundle_`` does too; ipywidgets 7
displays through a display hook, as in Colab), from which the box's output frame loads the
widget manager (Colab's own, built from tests/colab_box/vendor). Calls are recorded in
:data:`calls` for the tests.
"""

from . import _widgets

#: Every call made to this module: ("enable_custom_widget_manager", url), ...
calls: list[tuple[str, str | None]] = []


def enable_custom_widget_manager(url: str | None = None) -> None:
    """As Colab's: third-party widgets render with the custom widget manager from now on."""
    url = url or _widgets.MANAGER_URL
    calls.append(("enable_custom_widget_manager", url))
    _widgets._install_custom_widget_manager(url)


def disable_custom_widget_manager() -> None:
    calls.append(("disable_custom_widget_manager", None))
    _widgets._install_custom_widget_manager(None)
