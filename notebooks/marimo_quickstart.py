"""segwidget in marimo: `marimo edit notebooks/marimo_quickstart.py` (or `marimo run`).

marimo hosts anywidgets natively: `mo.ui.anywidget(w)` shows the view, and cells that read
`view.value` re-run when the view changes a setting (the stream keeps running through them).
Settings set from other cells reach the view; `w.latest()` works from any cell.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo

    from segwidget import SegWidget

    return SegWidget, mo


@app.cell
def _(SegWidget, mo):
    # The person profile's model ships in the package: nothing to download.
    w = SegWidget(profile="person")
    view = mo.ui.anywidget(w)
    view
    return view, w


@app.cell
def _(mo):
    mode = mo.ui.dropdown(
        ["filled", "contour", "blend", "blur", "replace", "confidence"],
        value="filled",
        label="viz_mode from this cell",
    )
    opacity = mo.ui.slider(0.0, 1.0, step=0.05, value=0.6, label="opacity")
    mo.hstack([mode, opacity])
    return mode, opacity


@app.cell
def _(mode, opacity, w):
    # Python -> the view: settings set from another cell.
    w.viz_mode = mode.value
    w.opacity = opacity.value
    return


@app.cell
def _(mo, view, w):
    # The view -> Python: re-runs whenever the view changes a setting (its toolbar).
    _ = view.value
    mo.md(f"Python sees `viz_mode = {w.viz_mode!r}`, `opacity = {w.opacity:.2f}`")
    return


@app.cell
def _(mo):
    grab = mo.ui.run_button(label="latest()")
    grab
    return (grab,)


@app.cell
def _(grab, mo, w):
    mo.stop(not grab.value, mo.md("Press **latest()** for the newest result."))
    r = w.latest(timeout=10)
    mo.md(
        f"latest(): seq {r.seq}, person {r.fraction('person'):.1%} of the frame, "
        f"{w.stats.get('fps', 0):.1f} results/s"
    )
    return


if __name__ == "__main__":
    app.run()
