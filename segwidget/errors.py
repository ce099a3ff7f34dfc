"""Exceptions, each with the stable ``code`` the transports put in their ``error`` messages."""

from __future__ import annotations

#: The codes of a failed profile load (js/src/handlers.js has the same list).
LOAD_ERRORS = (
    "WEIGHTS_UNAVAILABLE",
    "MODELS_NOT_INSTALLED",
    "BACKEND_UNAVAILABLE",
    "MODEL_LOAD_FAILED",
)


class SegwidgetError(Exception):
    """Base class. ``code`` is stable and documented in docs/API_REFERENCE.md."""

    code = "INTERNAL"
    recoverable = True

    def to_message(self) -> dict:
        return {
            "type": "error",
            "code": self.code,
            "message": str(self),
            "recoverable": self.recoverable,
        }


class WeightsUnavailableError(SegwidgetError, RuntimeError):
    """Pretrained weights are neither cached nor downloadable (e.g. offline)."""

    code = "WEIGHTS_UNAVAILABLE"
    recoverable = False


class ModelsNotInstalledError(SegwidgetError, ImportError):
    """A downloadable profile needs the ``models`` extra (torch, torchvision, transformers,
    onnx), which is not installed; the message has the install command."""

    code = "MODELS_NOT_INSTALLED"
    recoverable = False


class BackendUnavailableError(SegwidgetError, RuntimeError):
    """A requested backend or device cannot run on this machine."""

    code = "BACKEND_UNAVAILABLE"
    recoverable = False


class FrameError(SegwidgetError, ValueError):
    """A frame that cannot be segmented: wrong type or shape, too large, corrupt JPEG."""

    def __init__(self, message: str, code: str = "BAD_FRAME"):
        super().__init__(message)
        self.code = code


class ProtocolError(SegwidgetError, ValueError):
    """A malformed transport message. The connection stays usable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class StreamFailedError(SegwidgetError, RuntimeError):
    """A widget's stream cannot produce results (its model failed to load, its camera failed).

    Raised by ``latest()``, ``snapshot()``, ``record()`` and ``wait_source()`` with the code and
    message of the error the widget shows, instead of a timeout.
    """

    recoverable = False

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class InferenceTimeoutError(SegwidgetError, RuntimeError):
    """An inference outlived the scheduler's ``inference_timeout_s`` (the watchdog)."""

    code = "INFERENCE_TIMEOUT"


class GpuOutOfMemoryError(SegwidgetError, RuntimeError):
    """The GPU ran out of memory during an inference, even after its cache was freed."""

    code = "GPU_OUT_OF_MEMORY"


class ClusterUnavailableError(SegwidgetError, RuntimeError):
    """The Ray Serve model tier cannot be reached or failed a frame (docs/SCALING.md).

    Recoverable mid-stream (the session retries on its next frame); not at start.
    """

    code = "CLUSTER_UNAVAILABLE"

    def __init__(self, message: str, recoverable: bool = True):
        super().__init__(message)
        self.recoverable = recoverable
