"""SegWidget without a browser: frames go in through the comm message path, and what the
widget sends back (``widget.send(content, buffers)``) is captured and checked."""

from __future__ import annotations

import base64
import json
import threading
import time

import cv2
import numpy as np
import pytest
import traitlets

from segwidget import SegWidget, stream
from segwidget.edges import class_alpha
from segwidget.errors import StreamFailedError, WeightsUnavailableError
from segwidget.labels import ADE20K_CLASSES, VOC_CLASSES, resolve_palette
from segwidget.preprocess import decode_i420, decode_jpeg, encode_i420, encode_jpeg
from segwidget.protocol import decode_mask
from segwidget.render import render_overlay
from tests.widget_doubles import TIMEOUT

RESULT_TIMINGS = {"queue", "decode", "preprocess", "inference", "postprocess", "encode"}
STATS_KEYS = {
    "fps",
    "latency_ms",
    "inference_ms",
    "frames_processed",
    "frames_dropped",
    "backend",
    "device",
    "profile",
    "queue_size",
    "stages",
    "load_ms",
    "switch_ms",
}


@pytest.fixture(scope="module")
def jpegs(photos):
    return {name: encode_jpeg(rgb, 90) for name, rgb in photos.items()}


def comm_msg(widget, content, buffers=()):
    """Deliver a custom message exactly as the kernel's comm does (ipywidgets' dispatcher)."""
    widget._handle_msg(
        {
            "content": {"data": {"method": "custom", "content": content}},
            "buffers": [memoryview(b) for b in buffers],
        }
    )


def view_update(widget, **state):
    """A state update from the view (a control moved)."""
    widget._handle_msg(
        {
            "content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
            "buffers": [],
        }
    )


def send_frame(widget, seq, jpeg, **extra):
    header = {"type": "frame", "seq": seq, "t_capture": 1000.0 + seq, **extra}
    comm_msg(widget, header, [jpeg])


def result_for(widget, seq):
    return widget.outbox.wait(lambda c: c["type"] == "result" and c["seq"] == seq)


def delivered(widget, seq, timeout=10.0):
    """The widget's Result for ``seq`` (Python gets it just after the view's message)."""
    deadline = time.monotonic() + timeout
    after = 0
    while True:
        r = widget.wait_for_result(after=after, timeout=max(0.0, deadline - time.monotonic()))
        if r.seq >= seq:
            return r
        after = widget.results_count


def error_for(widget, seq):
    return widget.outbox.wait(lambda c: c["type"] == "error" and c.get("seq") == seq)


# ------------------------------------------------------------------------------ ready


def test_loading_then_ready_and_hello(make_widget):
    w = make_widget()
    kinds = [c["type"] for c, _ in w.outbox.messages]
    assert kinds[:2] == ["loading", "ready"]
    ready, buffers = w.outbox.of("ready")[0]
    assert buffers == []
    assert ready["profile"] == "fast"
    assert ready["input_size"] == 320
    assert ready["labels"] == list(VOC_CLASSES)
    assert ready["default_colormap"] == "voc"
    assert set(ready["palettes"]) == {"voc", "ade20k", "cityscapes", "person"}
    assert ready["palettes"]["voc"][15] == [192, 128, 128]  # person
    assert len(ready["palettes"]["ade20k"]) == len(ADE20K_CLASSES)
    assert ready["info"]["weights"].startswith("random")
    assert ready["info"]["backend"] in ("onnxruntime", "torch", "tensorrt")
    assert w.labels == list(VOC_CLASSES)
    assert w.colormap == "voc"

    comm_msg(w, {"type": "hello"})
    assert len(w.outbox.of("ready")) == 2


# ----------------------------------------------------------------------------- results


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_frame_gives_result_with_decodable_mask(make_widget, photos, jpegs, name):
    w = make_widget()
    send_frame(w, 7, jpegs[name], width=1, height=1, client={"capture_ms": 1.5, "encode_ms": 2})
    header, buffers = result_for(w, 7)

    assert header["t_capture"] == 1007.0
    assert header["profile"] == "fast"
    assert set(header["timings"]) == RESULT_TIMINGS
    assert header["server_ms"] == pytest.approx(sum(header["timings"].values()), abs=0.01)
    assert len(buffers) == 1  # the mask only: the browser has the frame
    m = header["mask"]
    assert m["encoding"] == "deflate"
    mask = decode_mask(buffers[0], m["width"], m["height"], m["encoding"])
    h, w_ = photos[name].shape[:2]
    assert max(m["width"], m["height"]) == 320
    assert m["width"] / m["height"] == pytest.approx(w_ / h, rel=0.1)
    counts = np.bincount(mask.ravel(), minlength=21)
    expected = [[int(i), round(counts[i] / mask.size, 5)] for i in np.argsort(-counts) if counts[i]]
    assert sorted(header["classes"]) == sorted(expected)
    assert mask.max() < len(VOC_CLASSES)

    latest = delivered(w, 7)
    assert latest.seq == 7
    np.testing.assert_array_equal(latest.mask, mask)
    np.testing.assert_array_equal(latest.frame, decode_jpeg(jpegs[name]))
    assert latest.classes == [(VOC_CLASSES[i], f) for i, f in latest.class_ids]
    assert [n for n, _ in w.detected] == [VOC_CLASSES[i] for i, _ in header["classes"]]
    assert w.error is None


def test_stats_message_and_trait(make_widget, jpegs):
    w = make_widget()
    send_frame(w, 1, jpegs["astronaut"])
    result_for(w, 1)
    feedback = {"seq": 1, "latency_ms": 50.0, "render_ms": 2.0, "decode_ms": 0.5}
    send_frame(w, 2, jpegs["astronaut"], feedback={**feedback, "network_ms": 4.0})
    result_for(w, 2)
    w._session.maybe_emit_stats(force=True)  # the ~1 Hz report, now
    stats = w.outbox.of("stats")[-1][0]["stats"]
    assert set(stats) >= STATS_KEYS
    assert stats == w.stats
    assert stats["frames_processed"] == 2
    assert stats["frames_dropped"] == 0
    assert stats["latency_ms"] == 50.0
    assert stats["stages"]["render"] == 2.0
    assert stats["stages"]["upload"] == 2.0  # half the measured network time
    assert stats["profile"] == "fast"
    assert stats["backend"] == w.engine.info["backend"]
    assert stats["inference_ms"] > 0
    assert stats["load_ms"] >= 0  # the pooled engine: ~0 ms
    assert stats["switch_ms"] is None  # no switch yet


def test_burst_keeps_only_the_newest_frame(make_widget, jpegs):
    w = make_widget()
    w.outbox.hold = threading.Event()
    try:
        send_frame(w, 1, jpegs["astronaut"])
        assert w.outbox.entered.wait(TIMEOUT)  # the worker is busy sending frame 1's result
        for seq in range(2, 11):
            send_frame(w, seq, jpegs["coffee"])
        assert w._session.queue_size == 1
        assert w._session.stats.frames_dropped == 8  # 2..9, each replaced by a newer one
    finally:
        w.outbox.hold.set()
    result_for(w, 10)
    w._session.maybe_emit_stats(force=True)
    assert [c["seq"] for c, _ in w.outbox.of("result")] == [1, 10]
    assert w.stats["frames_dropped"] == 8
    assert w.stats["frames_processed"] == 2


def test_bad_jpeg_is_an_error_and_the_stream_goes_on(make_widget, jpegs):
    w = make_widget()
    send_frame(w, 3, b"\xff\xd8 definitely not a jpeg")
    err, buffers = error_for(w, 3)
    assert buffers == []
    assert err["code"] == "BAD_JPEG"
    assert err["recoverable"] is True
    assert "JPEG" in err["message"]
    assert w.error == {"code": "BAD_JPEG", "message": err["message"], "recoverable": True}

    send_frame(w, 4, jpegs["chelsea"])
    result_for(w, 4)
    assert w.error is None  # the next good result clears a recoverable error


@pytest.mark.parametrize(
    ("content", "buffers", "code"),
    [
        ({"type": "frame", "seq": 5}, [], "BAD_FRAME"),
        ({"type": "frame", "seq": "5"}, [b"x"], "BAD_MESSAGE"),
        ({"type": "frame", "seq": 5, "t_capture": "now"}, [b"x"], "BAD_MESSAGE"),
        ({"type": "teleport"}, [], "UNKNOWN_TYPE"),
        ({"no_type": 1}, [], "BAD_MESSAGE"),
        ({"type": "client_error", "code": 3}, [], "BAD_MESSAGE"),
    ],
)
def test_malformed_messages_are_reported(make_widget, content, buffers, code):
    w = make_widget()
    comm_msg(w, content, buffers)
    err, _ = w.outbox.wait(lambda c: c["type"] == "error")
    assert err["code"] == code
    assert err["recoverable"] is True
    assert w.error["code"] == code


def test_client_error_sets_and_clears_error(make_widget):
    w = make_widget()
    comm_msg(
        w,
        {
            "type": "client_error",
            "code": "CAMERA_DENIED",
            "message": "Camera permission was denied",
            "recoverable": False,
        },
    )
    assert w.error == {
        "code": "CAMERA_DENIED",
        "message": "Camera permission was denied",
        "recoverable": False,
    }
    comm_msg(w, {"type": "client_error", "code": None})
    assert w.error is None

    comm_msg(w, {"type": "teleport"})  # a kernel-side error: the browser cannot clear it
    comm_msg(w, {"type": "client_error", "code": None})
    assert w.error["code"] == "UNKNOWN_TYPE"


# ------------------------------------------------------------------------------ traits


def test_trait_validation(make_widget):
    w = make_widget()
    cases = [
        ("opacity", 1.5, "between 0.0 and 1.0"),
        ("opacity", float("nan"), "between 0.0 and 1.0"),
        ("viz_mode", "sketch", "'side-by-side'"),
        ("colormap", "rainbow", "'cityscapes'"),
        ("colormap", "custom", "custom_palette"),
        ("custom_palette", [[1, 2]], "[r, g, b]"),
        ("custom_palette", [[1, 2, 300]], "0..255"),
        ("class_filter", ["person", "unicorn"], "'unicorn'"),
        ("resolution", [0, 480], "[width, height]"),
        ("resolution", [640], "[width, height]"),
        ("jpeg_quality", 0, "1 to 100"),
        ("max_in_flight", 0, "'auto' or 1 to 8"),
        ("max_in_flight", 9, "'auto' or 1 to 8"),
        ("max_in_flight", True, "'auto' or 1 to 8"),
        ("max_in_flight", "many", "'auto' or 1 to 8"),
        ("display", "sideways", "'aligned'"),
        ("upload_size", "huge", "'full'"),
        ("profile", "turbo", "'balanced'"),
        ("source_kind", "phone", "'kernel'"),
        ("latency_budget_ms", 5, "latency_budget_ms"),
        ("latency_budget_ms", float("nan"), "latency_budget_ms"),
    ]
    for name, value, words in cases:
        before = getattr(w, name)
        with pytest.raises(traitlets.TraitError, match=None) as info:
            setattr(w, name, value)
        assert words in str(info.value), (name, str(info.value))
        assert getattr(w, name) == before

    with pytest.raises(traitlets.TraitError) as info:
        w.class_filter = ["unicorn"]
    assert "'person'" in str(info.value)  # the valid names are listed
    for name in ("labels", "detected", "stats", "error"):
        with pytest.raises(traitlets.TraitError, match="read-only"):
            setattr(w, name, [] if name != "error" else None)

    w.opacity = 0.25
    w.viz_mode = "contour"
    w.class_filter = ["person", "cat"]
    w.custom_palette = [[255, 0, 0], [0, 255, 0]]
    w.colormap = "custom"
    w.resolution = (320, 240)
    assert w.resolution == [320, 240]
    assert (w.max_in_flight, w.display) == ("auto", "auto")
    w.max_in_flight = 6
    w.display = "aligned"
    assert (w.max_in_flight, w.display) == (6, "aligned")
    w.max_in_flight = 1
    w.upload_size = "full"
    assert (w.max_in_flight, w.upload_size) == (1, "full")
    with pytest.raises(traitlets.TraitError, match="colormap is 'custom'"):
        w.custom_palette = []


def test_adaptive_quality_settings_reach_the_session(make_widget, jpegs):
    w = make_widget(latency_budget_ms=120)
    adapter = w._session.adapter
    assert (adapter.budget_ms, adapter.enabled) == (120, True)
    w.latency_budget_ms = 400
    w.adapt = False
    assert (w._session.adapter.budget_ms, w._session.adapter.enabled) == (400, False)
    send_frame(w, 1, jpegs["astronaut"])
    content, _ = result_for(w, 1)
    assert content["quality"] == {"input_size": 320, "max_fps": None, "adapted": False}


def test_raw_i420_frame_with_a_raw_mask(make_widget, photos):
    w = make_widget()
    rgb = cv2.resize(photos["astronaut"], (320, 240), interpolation=cv2.INTER_AREA)
    data = encode_i420(rgb)
    send_frame(w, 1, data, encoding="i420", width=320, height=240, mask_encoding="raw")
    content, buffers = result_for(w, 1)
    m = content["mask"]
    assert (m["width"], m["height"], m["encoding"]) == (320, 240, "raw")
    assert len(buffers[0]) == 320 * 240
    assert "frame" not in content  # the browser shows its own video
    same = w.engine.segment(decode_i420(data, 320, 240)).mask
    assert np.array_equal(np.frombuffer(bytes(buffers[0]), np.uint8).reshape(240, 320), same)
    assert w.latest().frame.shape == (240, 320, 3)  # snapshots and recordings still work
    send_frame(w, 2, data, encoding="i420", width=322, height=240)
    error, _ = error_for(w, 2)
    assert error["code"] == "BAD_FRAME"
    assert "115920 bytes" in error["message"]
    send_frame(w, 3, data, encoding="png")
    assert error_for(w, 3)[0]["code"] == "BAD_MESSAGE"


def test_constructor_checks_its_arguments():
    with pytest.raises(TypeError, match="unknown setting"):
        SegWidget(weights="random", opacty=0.5)
    with pytest.raises(traitlets.TraitError, match="valid profiles"):
        SegWidget(profile="turbo", weights="random")
    with pytest.raises(TypeError, match="read"):
        SegWidget(weights="random", labels=["x"])


def test_constructor_settings_and_accurate_colormap(make_widget):
    w = make_widget(
        viz_mode="blend",
        opacity=0.3,
        colormap="custom",
        custom_palette=[[10, 20, 30]],
        class_filter=["dog"],
        wait_ready=False,
    )
    assert (w.viz_mode, w.opacity, w.colormap, w.class_filter) == ("blend", 0.3, "custom", ["dog"])
    state = w.get_state()
    json.dumps({k: v for k, v in state.items() if not k.startswith("_")})
    assert state["source_kind"] == "browser"


def test_view_updates_settings_but_not_read_only_traits(make_widget):
    w = make_widget()
    view_update(w, opacity=0.9, viz_mode="side-by-side", stats={"fps": 1e9}, labels=["x"])
    assert w.opacity == 0.9
    assert w.viz_mode == "side-by-side"
    assert w.stats.get("fps") != 1e9
    assert w.labels == list(VOC_CLASSES)


# ---------------------------------------------------------------------- Python API


def test_latest_overlay_snapshot_and_on_result(make_widget, jpegs, tmp_path):
    w = make_widget(opacity=0.5, smoothing=0.0)  # each overlay from its own mask
    assert w.latest() is None
    seen, boom = [], []
    called = {seq: threading.Event() for seq in (1, 2, 3)}

    def collect(result):
        seen.append(result.seq)

    def explode(result):  # registered second: runs after collect
        boom.append(result.seq)
        called[result.seq].set()
        raise RuntimeError("user bug")

    remove = w.on_result(collect)
    w.on_result(explode)
    send_frame(w, 1, jpegs["astronaut"])
    assert called[1].wait(10)
    send_frame(w, 2, jpegs["coffee"])  # the raising callback did not stop the stream
    assert called[2].wait(10)
    remove()
    send_frame(w, 3, jpegs["chelsea"])
    assert called[3].wait(10)
    assert seen == [1, 2]
    assert boom == [1, 2, 3]

    r = w.latest()
    assert r.seq == 3
    palette = resolve_palette("voc", 21)
    expected = render_overlay(r.frame, r.mask, palette, "filled", 0.5, None)
    np.testing.assert_array_equal(r.overlay(), expected)
    assert not np.array_equal(r.overlay(), r.frame)
    w.opacity = 0.0  # settings apply when the overlay is made
    np.testing.assert_array_equal(r.overlay(), r.frame)
    w.viz_mode = "side-by-side"
    assert r.overlay().shape == (r.frame.shape[0], 2 * r.frame.shape[1], 3)
    w.class_filter = ["aeroplane"]
    sbs = r.overlay(viz_mode="side-by-side")
    hidden = ~np.isin(r.mask_at(), [VOC_CLASSES.index("aeroplane")])
    np.testing.assert_array_equal(sbs[:, r.frame.shape[1] :][hidden], r.frame[hidden])
    assert r.mask_at().shape == r.frame.shape[:2]

    path = w.snapshot(tmp_path / "shot.png")
    assert path == tmp_path / "shot.png"
    saved = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(saved, r.overlay())


def test_snapshot_without_results_is_a_clear_error(make_widget, tmp_path):
    w = make_widget()
    with pytest.raises(RuntimeError, match="no result yet"):
        w.snapshot(tmp_path / "x.png", timeout=0)


def test_record_writes_the_composites_at_the_measured_rate(make_widget, jpegs, tmp_path):
    w = make_widget(viz_mode="filled")
    overlays = []
    sixth = threading.Event()  # listeners run after the recordings got the result

    def collect(r):
        overlays.append(r.overlay())
        if r.seq == 6:
            sixth.set()

    w.on_result(collect)
    rec = w.record(tmp_path / "clip.mp4", seconds=None)
    assert not rec.done()
    for seq in range(1, 7):
        send_frame(w, seq, jpegs["astronaut" if seq % 2 else "chelsea"])
        result_for(w, seq)
    assert sixth.wait(TIMEOUT)
    rec.stop()
    out = rec.wait(TIMEOUT)
    assert out.path == tmp_path / "clip.mp4"
    assert out.frames == 6
    assert out.fps == pytest.approx(5 / out.duration_s, rel=0.01)

    cap = cv2.VideoCapture(str(out.path))
    try:
        assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(out.fps, rel=0.02)
        frames = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(bgr)
    finally:
        cap.release()
    assert len(frames) == 6
    assert frames[0].shape == (512, 512, 3)  # the first composite's size
    for got, rgb in zip(frames, overlays, strict=True):
        want = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), (512, 512), cv2.INTER_AREA)
        assert np.abs(got.astype(int) - want).mean() < 8  # a lossy video codec


def _sized(photo, width, height):
    return encode_jpeg(cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA), 90)


def _upload_sizes(w):
    """Every value ``upload_size`` takes, and an event for each change to ``"full"``."""
    seen, full = [], threading.Event()

    def note(change):
        seen.append(change["new"])
        if change["new"] == "full":
            full.set()

    w.observe(note, "upload_size")
    return seen, full


def test_snapshot_asks_the_view_for_a_full_size_frame(make_widget, photos, tmp_path):
    """The view uploads model-size frames (fast: 320 long side); a snapshot sets
    upload_size="full" until a frame larger than that is segmented, saves it at its size
    and puts "model" back; frames still in flight at model size are not taken."""
    w = make_widget()
    small, full = _sized(photos["astronaut"], 320, 240), _sized(photos["astronaut"], 640, 480)
    send_frame(w, 1, small)
    assert delivered(w, 1).frame.shape == (240, 320, 3)  # r.frame of latest(): as today
    seen, asked = _upload_sizes(w)
    done: dict = {}
    t = threading.Thread(target=lambda: done.update(path=w.snapshot(tmp_path / "shot.png")))
    t.start()
    assert asked.wait(TIMEOUT)
    send_frame(w, 2, small)  # captured before the view saw the change
    delivered(w, 2)
    assert t.is_alive()
    send_frame(w, 3, full)
    t.join(TIMEOUT)
    assert not t.is_alive()
    saved = cv2.imread(str(done["path"]))
    assert saved.shape == (480, 640, 3)
    assert seen == ["full", "model"]
    # the newest result is full size already: taken at once, nothing asked of the view
    assert w.snapshot(tmp_path / "again.png") == tmp_path / "again.png"
    assert seen == ["full", "model"]


def test_snapshot_in_a_notebook_cell_is_written_once_the_full_frame_is_in(
    make_widget, photos, tmp_path, monkeypatch
):
    """In a cell the kernel takes the view's frames only once the cell ends: snapshot()
    returns at once and the worker writes the file with the first full-size result."""
    from segwidget import full_size

    monkeypatch.setattr(full_size, "in_kernel_cell", lambda: True)
    w = make_widget()
    small, full = _sized(photos["chelsea"], 320, 240), _sized(photos["chelsea"], 640, 480)
    send_frame(w, 1, small)
    delivered(w, 1)
    seen, _ = _upload_sizes(w)
    path = w.snapshot(tmp_path / "cell.jpg")
    assert path == tmp_path / "cell.jpg"
    assert not path.exists()
    assert seen == ["full"]
    send_frame(w, 2, full)
    result_for(w, 2)
    send_frame(w, 3, small)
    result_for(w, 3)  # the worker wrote the file with result 2 before it sent result 3
    assert cv2.imread(str(path)).shape == (480, 640, 3)
    assert seen == ["full", "model"]
    with pytest.raises(ValueError, match=r"\.png or \.jpg"):
        w.snapshot(tmp_path / "shot.gif")


def test_recording_and_snapshot_share_full_size_frames(make_widget, photos, tmp_path):
    """A recording holds upload_size="full" for as long as it runs, a snapshot meanwhile
    does not put "model" back; the clip starts at the first full-size frame."""
    w = make_widget(upload_size="model")
    small, full = _sized(photos["coffee"], 320, 240), _sized(photos["coffee"], 640, 480)
    seen, asked = _upload_sizes(w)
    rec = w.record(tmp_path / "clip.avi", seconds=None)
    assert asked.is_set()
    send_frame(w, 1, small)  # in flight before the view saw the change: not recorded
    delivered(w, 1)
    for seq in (2, 3):
        send_frame(w, seq, full)
        delivered(w, seq)
    w.snapshot(tmp_path / "shot.png", timeout=TIMEOUT)
    assert w.upload_size == "full"  # the recording still needs it
    send_frame(w, 4, small)  # a late small one is scaled up with the rest
    delivered(w, 4)
    rec.stop()
    out = rec.wait(TIMEOUT)
    assert out.frames == 3
    assert seen == ["full", "model"]
    cap = cv2.VideoCapture(str(out.path))
    try:
        ok, first = cap.read()
    finally:
        cap.release()
    assert ok
    assert first.shape == (480, 640, 3)


def test_kernel_sources_and_stopped_streams_ask_nothing_of_the_view(make_widget, tmp_path):
    frames = [np.full((120, 160, 3), 90, np.uint8)] * 3
    w = make_widget(source=iter(frames))
    assert w.wait_source(TIMEOUT)
    seen, _ = _upload_sizes(w)
    assert cv2.imread(str(w.snapshot(tmp_path / "k.png"))).shape == (120, 160, 3)
    w.record(tmp_path / "k.avi", seconds=0.1).stop()
    assert seen == []
    assert w.upload_size == "model"


def test_record_with_no_results_says_so(make_widget, tmp_path):
    w = make_widget()
    rec = w.record(tmp_path / "empty.avi", seconds=0.2)
    with pytest.raises(RuntimeError, match="no results arrived"):
        rec.wait(TIMEOUT)
    with pytest.raises(ValueError, match="unsupported video extension"):
        w.record(tmp_path / "clip.gif")


# --------------------------------------------------------------------- profile switch


def test_profile_switch_while_streaming(make_widget, jpegs, monkeypatch):
    release = threading.Event()
    real_get_engine = stream.get_engine

    def slow_get_engine(profile, **kwargs):
        if profile == "balanced":
            assert release.wait(TIMEOUT)
        return real_get_engine(profile, **kwargs)

    monkeypatch.setattr(stream, "get_engine", slow_get_engine)
    w = make_widget()
    try:
        w.profile = "balanced"
        w.outbox.wait(lambda c: c == {"type": "loading", "profile": "balanced"})
        for seq in (1, 2):  # the old engine keeps serving while the new one loads
            send_frame(w, seq, jpegs["astronaut"])
            assert result_for(w, seq)[0]["profile"] == "fast"
        comm_msg(w, {"type": "hello"})  # a view mounted mid-switch hears about it
        assert w.outbox.of("loading")[-1][0]["profile"] == "balanced"
    finally:
        release.set()
    ready, _ = w.outbox.wait(lambda c: c["type"] == "ready" and c["profile"] == "balanced")
    assert ready["labels"] == list(VOC_CLASSES)
    send_frame(w, 3, jpegs["astronaut"])
    assert result_for(w, 3)[0]["profile"] == "balanced"
    assert delivered(w, 3).profile == "balanced"
    w._session.maybe_emit_stats(force=True)
    assert w.stats["profile"] == "balanced"
    assert w.stats["switch_ms"] > 0


def test_a_widget_with_random_weights_switches_to_the_shipped_person_model(make_widget, jpegs):
    w = make_widget()  # weights="random": the person profile still runs its shipped weights
    w.profile = "person"
    ready, _ = w.outbox.wait(lambda c: c["type"] == "ready" and c["profile"] == "person")
    assert ready["labels"] == ["background", "person"]
    assert ready["default_colormap"] == "person"
    assert w.colormap == "person"
    assert "'random' does not apply" in ready["info"]["weights"]
    send_frame(w, 1, jpegs["astronaut"])
    header, _ = result_for(w, 1)
    assert header["profile"] == "person"
    assert dict(header["classes"])[1] > 0.4  # she is found: these are trained weights
    r = delivered(w, 1)  # Python gets it just after the view's message
    assert r.confidence is not None
    assert r.alpha is not None  # the view draws its classes from the smoothed alpha
    assert r.shown is None


def test_failed_profile_load_keeps_the_old_engine(make_widget, jpegs, monkeypatch):
    real_get_engine = stream.get_engine

    def failing_get_engine(profile, **kwargs):
        if profile == "accurate":
            raise OSError("disk on fire")
        return real_get_engine(profile, **kwargs)

    monkeypatch.setattr(stream, "get_engine", failing_get_engine)
    w = make_widget(class_filter=["person"])
    w.profile = "accurate"
    err, _ = w.outbox.wait(lambda c: c["type"] == "error")
    assert err["code"] == "MODEL_LOAD_FAILED"
    assert err["recoverable"] is True  # the stream goes on with the old engine
    assert "disk on fire" in err["message"]
    assert w.error["code"] == "MODEL_LOAD_FAILED"
    assert w.profile == "fast"  # back to the profile that still serves
    send_frame(w, 1, jpegs["coffee"])
    assert result_for(w, 1)[0]["profile"] == "fast"
    assert w.error["code"] == "MODEL_LOAD_FAILED"  # a result does not clear it: it applies


def test_accurate_profile_switches_labels_colormap_and_filter(make_widget, monkeypatch):
    """Readiness of an ADE20K profile moves the label set, the default colormap and the filter
    (the engine is a stand-in so the test needs no SegFormer export)."""
    real_get_engine = stream.get_engine
    fast = real_get_engine("fast", weights="random")

    class FakeAccurate:
        def __init__(self):
            from segwidget.profiles import PROFILES

            self.profile = PROFILES["accurate"]
            self.labels = list(ADE20K_CLASSES)
            self.input_size = 384
            self.info = {**fast.info, "profile": "accurate"}

    def fake_get_engine(profile, **kwargs):
        return FakeAccurate() if profile == "accurate" else real_get_engine(profile, **kwargs)

    monkeypatch.setattr(stream, "get_engine", fake_get_engine)
    w = make_widget(class_filter=["person", "cat"])
    w.profile = "accurate"
    ready, _ = w.outbox.wait(lambda c: c["type"] == "ready" and c["profile"] == "accurate")
    assert ready["default_colormap"] == "ade20k"
    assert w.labels == list(ADE20K_CLASSES)
    assert w.colormap == "ade20k"
    assert w.class_filter == ["person"]  # "cat" is not an ADE20K class
    w.class_filter = ["wall", "sky"]
    with pytest.raises(traitlets.TraitError):
        w.class_filter = ["aeroplane"]


def test_close_stops_everything(make_widget, jpegs):
    w = make_widget()
    w.close()
    assert w._session.closed
    before = len(w.outbox.messages)
    send_frame(w, 1, jpegs["astronaut"])  # a late message after close is ignored
    assert len(w.outbox.messages) == before


def test_first_load_failure_stops_the_stream(make_widget, photo, monkeypatch):
    from segwidget.errors import WeightsUnavailableError

    def offline(profile, **kwargs):
        raise WeightsUnavailableError("pretrained weights are not cached and we are offline")

    monkeypatch.setattr(stream, "get_engine", offline)
    gate = threading.Event()

    def frames():
        gate.wait(TIMEOUT)
        yield photo

    w = make_widget(source=frames(), weights="pretrained", wait_ready=False)
    err, _ = w.outbox.wait(lambda c: c["type"] == "error")
    gate.set()
    assert err["code"] == "WEIGHTS_UNAVAILABLE"
    assert err["recoverable"] is False
    assert "seq" not in err
    assert w.error["code"] == "WEIGHTS_UNAVAILABLE"
    assert w.running is False
    with pytest.raises(StreamFailedError, match="offline") as failed:
        w.wait_source(TIMEOUT)
    assert failed.value.code == "WEIGHTS_UNAVAILABLE"
    assert w.engine is None
    assert w.outbox.of("ready") == []


def test_a_failed_stream_raises_its_error_where_the_user_looks_next(
    make_widget, tmp_path, monkeypatch
):
    """Offline with no weights: latest(), snapshot(), record() and wait_for_result() raise
    the widget's own error (code and message) at once instead of timing out."""
    loading = threading.Event()

    def offline(profile, **kwargs):
        loading.wait(TIMEOUT)
        raise WeightsUnavailableError("pretrained weights are not cached and we are offline")

    monkeypatch.setattr(stream, "get_engine", offline)
    w = make_widget(weights="pretrained", wait_ready=False)
    rec = w.record(tmp_path / "clip.mp4", seconds=None)  # started before the failure
    waiter: dict = {}

    def wait_latest():
        try:
            w.latest(timeout=TIMEOUT)
        except StreamFailedError as exc:
            waiter["error"] = exc

    t = threading.Thread(target=wait_latest)
    t.start()
    loading.set()  # the load now fails while latest() waits
    t.join(TIMEOUT)
    assert not t.is_alive()
    assert waiter["error"].code == "WEIGHTS_UNAVAILABLE"
    assert str(waiter["error"]) == w.error["message"]
    for call in (
        lambda: w.latest(),
        lambda: w.latest(timeout=TIMEOUT),
        lambda: w.wait_for_result(timeout=TIMEOUT),
        lambda: w.snapshot(tmp_path / "shot.png", timeout=TIMEOUT),
        lambda: w.record(tmp_path / "other.mp4", seconds=5),
        lambda: w.wait_source(TIMEOUT),
        lambda: rec.wait(TIMEOUT),
    ):
        with pytest.raises(StreamFailedError, match="offline"):
            call()
    assert not (tmp_path / "shot.png").exists()


def test_a_failed_switch_does_not_fail_the_stream(make_widget, jpegs, monkeypatch):
    w = make_widget()
    real = stream.get_engine

    def offline_balanced(profile, **kwargs):
        if profile == "balanced":
            raise WeightsUnavailableError("balanced: offline")
        return real(profile, **kwargs)

    monkeypatch.setattr(stream, "get_engine", offline_balanced)
    w.profile = "balanced"
    err, _ = w.outbox.wait(lambda c: c["type"] == "error")
    assert err["recoverable"] is True  # the view's banner: the stream goes on
    assert w.error["code"] == "WEIGHTS_UNAVAILABLE"
    assert w.error["recoverable"] is True
    assert w.profile == "fast"  # back to the one that serves
    send_frame(w, 1, jpegs["astronaut"])
    result_for(w, 1)
    assert w.latest(timeout=TIMEOUT).seq == 1  # the fast profile keeps serving
    assert w.error["code"] == "WEIGHTS_UNAVAILABLE"  # a result does not end it: it applies
    w.profile = "fast"  # asking for the serving profile again: the failed switch is over
    assert w.error is None
    w.profile = "balanced"
    w.outbox.wait(lambda c: c["type"] == "error" and len(w.outbox.of("error")) == 2)
    assert w.error["recoverable"] is True
    w.profile = "person"  # a new attempt at another profile: the old error is over
    assert w.error is None
    w.outbox.wait(lambda c: c["type"] == "ready" and c.get("profile") == "person")
    assert w.error is None


# ------------------------------------------------------------------- effect settings


def test_background_trait_forms_and_wire(make_widget, tmp_path):
    w = make_widget(background="#0F0", wait_ready=False)
    assert w.background == "#00ff00"
    assert w.get_state("background") == {"background": {"color": "#00ff00"}}
    w.background = (255, 0, 16)
    assert w.background == "#ff0010"
    img = np.zeros((30, 40, 3), np.uint8)
    img[:, 20:] = (0, 0, 255)
    w.background = img
    assert w.background.shape == (30, 40, 3)
    state = w.get_state("background")["background"]
    assert (state["mime"], state["width"], state["height"]) == ("image/jpeg", 40, 30)
    # base64 text, not a buffer: Colab's manager drops an initial state's buffers
    assert state["encoding"] == "base64"
    assert isinstance(state["image"], str)
    sent = decode_jpeg(base64.b64decode(state["image"]))
    assert np.abs(sent.astype(int) - img).mean() < 3  # JPEG: close, not exact
    path = tmp_path / "bg.png"
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    w.background = str(path)
    np.testing.assert_array_equal(w.background, img)
    for bad, match in [
        ("#12", "'#rrggbb'"),
        ((1, 2, 300), "0..255"),
        (tmp_path / "missing.png", "not a colour or an existing file"),
        (np.zeros((4, 4), np.uint8), "HxWx3 uint8"),
    ]:
        with pytest.raises(traitlets.TraitError, match=match):
            w.background = bad
    np.testing.assert_array_equal(w.background, img)  # a bad value changes nothing


def test_background_from_the_views_picker(make_widget):
    w = make_widget(wait_ready=False)
    view_update(w, background={"color": "#112233"})
    assert w.background == "#112233"
    img = np.full((8, 8, 3), (10, 200, 30), np.uint8)
    png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))[1].tobytes()
    w._handle_msg(
        {
            "content": {
                "data": {
                    "method": "update",
                    "state": {"background": {"mime": "image/png"}},
                    "buffer_paths": [["background", "image"]],
                }
            },
            "buffers": [memoryview(png)],
        }
    )
    np.testing.assert_array_equal(w.background, img)
    # this version's picker sends base64 text (no buffer), as the kernel does
    view_update(w, background={"image": base64.b64encode(png).decode(), "encoding": "base64"})
    np.testing.assert_array_equal(w.background, img)
    with pytest.raises(traitlets.TraitError, match="not base64"):
        w.set_state({"background": {"image": "not base64!", "encoding": "base64"}})


def test_big_background_reaches_the_view_small_and_without_buffers(make_widget):
    """A large, noisy image goes into the state as base64 JPEG text of at most
    MAX_BACKGROUND_JPEG bytes (downscaled as needed): no buffer, no message near 1 MB."""
    from segwidget.traits import MAX_BACKGROUND_JPEG

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (1080, 1920, 3), np.uint8)  # noise: the worst case for JPEG
    w = make_widget(background=img, wait_ready=False)
    state, buffer_paths, buffers = _split(w)
    assert buffers == []
    assert buffer_paths == []
    jpeg = base64.b64decode(state["background"]["image"])
    assert len(jpeg) <= MAX_BACKGROUND_JPEG
    assert len(json.dumps(state)) < 512 * 1024
    sent = decode_jpeg(jpeg)
    h, wd = sent.shape[:2]
    assert abs(wd / h - 1920 / 1080) < 0.02  # downscaled, aspect kept


def _split(w):
    from ipywidgets.widgets.widget import _remove_buffers

    return _remove_buffers(w.get_state())


def test_smoothing_and_mirror_traits(make_widget):
    w = make_widget(smoothing=0.2, wait_ready=False)
    assert w.smoothing == 0.2
    assert w.mirror is None  # auto: the view mirrors front cameras
    w.mirror = True
    w.mirror = False
    for bad in (-0.5, 1.01, float("nan")):
        with pytest.raises(traitlets.TraitError, match="smoothing"):
            w.smoothing = bad
    with pytest.raises(traitlets.TraitError):
        w.mirror = "yes"
    assert (w.smoothing, w.mirror) == (0.2, False)


def test_effects_in_python_overlays(make_widget, jpegs, photos):
    w = make_widget(viz_mode="blur", smoothing=0.0)
    send_frame(w, 1, jpegs["astronaut"])
    r = delivered(w, 1)
    assert r.confidence is None  # the fast profile gives no confidence
    person = r.mask == VOC_CLASSES.index("person")
    # the person class's 3x3 share at mask resolution (segwidget.edges.class_alpha)
    np.testing.assert_array_equal(r.alpha, class_alpha(r.mask, VOC_CLASSES.index("person")))
    blurred = r.overlay()
    assert blurred.shape == r.frame.shape
    replaced = r.overlay(viz_mode="replace", background=(1, 2, 3))
    if not person.any():  # random weights: wherever no pixel is person, all is background
        assert (replaced == (1, 2, 3)).all()
    mirrored = r.overlay(viz_mode="filled", mirror=True)
    np.testing.assert_array_equal(
        mirrored, w.composite(r.frame[:, ::-1], r.mask[:, ::-1], r.labels, viz_mode="filled")
    )
    assert r.frame.shape == photos["astronaut"].shape  # never mirrored


def test_python_overlays_draw_the_views_steadied_classes(make_widget, photos):
    """overlay() draws what the view draws: a pixel's class changes when two results in a
    row agree (effects.ViewSmoothing, as js/src/view-effects.js); at smoothing 0, the raw
    mask. ``mask`` itself stays the model's."""
    w = make_widget(viz_mode="filled")
    coffee = encode_jpeg(photos["coffee"], 90)
    mirrored = encode_jpeg(np.ascontiguousarray(photos["coffee"][:, ::-1]), 90)
    results = []
    for seq, jpeg in enumerate((coffee, mirrored, mirrored), 1):
        send_frame(w, seq, jpeg)
        results.append(delivered(w, seq))
    r1, r2, r3 = results
    assert (r1.mask != r2.mask).any()
    np.testing.assert_array_equal(r2.shown, r1.mask)  # one result alone changes nothing
    np.testing.assert_array_equal(r2.overlay(), w.composite(r2.frame, r1.mask, r2.labels))
    assert not np.array_equal(r2.overlay(), w.composite(r2.frame, r2.mask, r2.labels))
    np.testing.assert_array_equal(r3.shown, r3.mask)  # two in a row do
    w.smoothing = 0.0
    send_frame(w, 4, coffee)
    r4 = delivered(w, 4)
    np.testing.assert_array_equal(r4.shown, r4.mask)
    np.testing.assert_array_equal(r4.overlay(), w.composite(r4.frame, r4.mask, r4.labels))


def test_options_message_over_the_comm(make_widget, jpegs):
    w = make_widget()
    comm_msg(w, {"type": "options", "confidence": True})
    assert w._session.want_confidence is True
    comm_msg(w, {"type": "options", "confidence": 1})
    err, _ = w.outbox.wait(lambda c: c["type"] == "error")
    assert err["code"] == "BAD_MESSAGE"
    send_frame(w, 1, jpegs["astronaut"])
    header, buffers = result_for(w, 1)
    assert "confidence" not in header  # the fast profile has none to send
    assert len(buffers) == 1


def test_person_results_carry_the_confidence_buffer_when_asked(make_widget, jpegs):
    w = make_widget(profile="person", viz_mode="blur")
    send_frame(w, 1, jpegs["astronaut"])
    header, buffers = result_for(w, 1)
    assert "confidence" not in header  # not asked yet: the mask only
    assert len(buffers) == 1
    comm_msg(w, {"type": "options", "confidence": True})
    send_frame(w, 2, jpegs["astronaut"])
    header, buffers = result_for(w, 2)
    c = header["confidence"]
    assert (c["width"], c["height"]) == (header["mask"]["width"], header["mask"]["height"])
    assert len(buffers) == 2
    conf = decode_mask(buffers[1], c["width"], c["height"], c["encoding"])
    r = delivered(w, 2)
    np.testing.assert_array_equal(conf, r.confidence)
    assert r.alpha is not None  # smoothed: blur is on
    assert r.alpha.shape == conf.shape
    assert conf[r.mask == 1].mean() > 128 > conf[r.mask == 0].mean()


def test_awaiting_a_recording_leaves_the_event_loop_free(make_widget, jpegs, tmp_path):
    """The frames reach the kernel on its event loop: while a cell awaits the recording they
    keep coming (here they stop the recording), where a blocking wait() would hang."""
    import asyncio

    w = make_widget()
    # listeners run after the recordings got the result (ResultHub.publish)
    pushed = {seq: threading.Event() for seq in (1, 2, 3)}
    w.on_result(lambda r: pushed[r.seq].set())

    async def main():
        rec = w.record(tmp_path / "awaited.mp4", seconds=None)

        async def feed():
            for seq in (1, 2, 3):
                send_frame(w, seq, jpegs["astronaut"])
                assert await asyncio.to_thread(pushed[seq].wait, TIMEOUT)
            rec.stop()

        done, _ = await asyncio.wait_for(asyncio.gather(rec, feed()), TIMEOUT)
        return done

    result = asyncio.run(main())
    assert result.path == tmp_path / "awaited.mp4"
    assert result.frames == 3
