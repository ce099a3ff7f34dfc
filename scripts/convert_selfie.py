"""Convert MediaPipe's selfie segmentation models (TFLite) to the ONNX files segwidget ships.

Source: the npm package ``@mediapipe/selfie_segmentation`` (Apache-2.0). The script takes it
from ``node_modules`` when ``npm ci`` has installed the pinned version, otherwise it runs
``npm pack`` into a temporary folder. Each ``.tflite`` flatbuffer is read with the ``tflite``
package (``pip install 'segwidget[convert]'``) and rebuilt op by op as an NCHW ONNX graph:

* in: ``image``, uint8 ``N x 3 x H x W`` RGB (what every segwidget backend takes), scaled to
  [0, 1] inside the graph, exactly as MediaPipe's ``ImageToTensorCalculator`` feeds the model
  (``output_tensor_float_range {min: 0 max: 1}``; the frame is stretched to the model size,
  ``keep_aspect_ratio: false``, which the engine does before the graph);
* out: ``mask``, uint8 ``N x H x W``, 1 where the person probability is >= 0.5, and
  ``confidence``, uint8 ``N x H x W``, the person probability times 255, rounded
  (``mask == confidence >= 128`` exactly).

float16 weights (``DEQUANTIZE`` of fp16 constants) become float32 initializers; MediaPipe's
custom ``Convolution2DTransposeBias`` becomes ``ConvTranspose`` with the same padding rule as
its kernel. The batch dimension is dynamic. The output is deterministic: re-running the script
writes byte-identical files.

Usage: ``python scripts/convert_selfie.py [--out segwidget/models] [--package DIR]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PACKAGE = "@mediapipe/selfie_segmentation"
VERSION = "0.1.1675465747"
ROOT = Path(__file__).resolve().parent.parent
OPSET = 17
#: tflite file -> shipped ONNX file
MODELS = {
    "selfie_segmentation.tflite": "selfie_square.onnx",
    "selfie_segmentation_landscape.tflite": "selfie_landscape.onnx",
}
#: Output tensors that score the background rather than the person (measured against
#: MediaPipe's runtime: both models score the person; ``segment_back`` is only a name).
BACKGROUND_OUTPUTS: frozenset[str] = frozenset()

FLOAT32, FLOAT16, INT32 = 0, 1, 2
NUMPY = {FLOAT32: np.float32, FLOAT16: np.float16, INT32: np.int32}
PAD_SAME, PAD_VALID = 0, 1  # tflite.Padding
TRANSPOSE_PAD_SAME = 1  # TfLitePadding in the custom op's C struct (0 is "unknown")


def find_package(explicit: Path | None) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """The unpacked npm package folder (and the temporary folder to clean up, if any)."""
    candidates = [explicit] if explicit else [ROOT / "node_modules" / PACKAGE]
    for folder in candidates:
        meta = folder / "package.json"
        if meta.exists() and json.loads(meta.read_text())["version"] == VERSION:
            return folder, None
        if explicit:
            raise SystemExit(f"{folder} is not {PACKAGE}@{VERSION}")
    tmp = tempfile.TemporaryDirectory(prefix="selfie-")
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(f"npm is needed to fetch {PACKAGE}@{VERSION} (or pass --package DIR)")
    out = subprocess.run(
        [npm, "pack", f"{PACKAGE}@{VERSION}", "--silent"],
        cwd=tmp.name,
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = Path(tmp.name) / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp.name, filter="data")
    return Path(tmp.name) / "package", tmp


def same_pads(size: int, out: int, k: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding (the extra pixel, if odd, goes after)."""
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class Converter:
    """One tflite subgraph -> one ONNX graph (NHWC tensors become NCHW)."""

    def __init__(self, data: bytes):
        import tflite

        self.tfl = tflite
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.graph = self.model.Subgraphs(0)
        self.consts: dict[int, np.ndarray] = {}  # tflite tensor index -> NHWC value
        self.nodes: list = []
        self.inits: list = []
        self.opcodes = []
        for i in range(self.model.OperatorCodesLength()):
            oc = self.model.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            if code == tflite.BuiltinOperator.CUSTOM:
                self.opcodes.append("CUSTOM:" + oc.CustomCode().decode())
            else:
                self.opcodes.append(tflite.opcode2name(code))
        for t in range(self.graph.TensorsLength()):
            tensor = self.graph.Tensors(t)
            raw = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
            if isinstance(raw, np.ndarray) and raw.size:
                value = np.frombuffer(raw.tobytes(), NUMPY[tensor.Type()])
                self.consts[t] = value.reshape(tensor.ShapeAsNumpy())

    def shape(self, t: int) -> list[int]:
        return self.graph.Tensors(t).ShapeAsNumpy().tolist()

    def name(self, t: int) -> str:
        return f"t{t}"

    def init(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def scalar(self, name: str, value: float) -> str:
        """A float32 scalar initializer, added once."""
        if all(i.name != name for i in self.inits):
            self.init(name, np.array(value, np.float32))
        return name

    def operand(self, t: int) -> str:
        """An input of an elementwise op: an activation, or a constant laid out for NCHW."""
        if t not in self.consts:
            return self.name(t)
        value = self.consts[t].astype(np.float32)
        if value.ndim == 4:
            value = value.transpose(0, 3, 1, 2)
        elif value.ndim == 1 and value.size > 1:
            value = value.reshape(-1, 1, 1)
        return self.init(f"{self.name(t)}_c", value)

    def options(self, op, cls):
        opts = cls()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        return opts

    def convert(self, out_name: str, background: bool) -> onnx.ModelProto:
        g, tfl = self.graph, self.tfl
        (inp,) = g.InputsAsNumpy().tolist()
        (outp,) = g.OutputsAsNumpy().tolist()
        _, h, w, c = self.shape(inp)
        self.init("c_scale", np.array(1 / 255, np.float32))
        self.init("c_zero", np.array(0, np.float32))
        self.init("c_one", np.array(1, np.float32))
        self.init("c_255", np.array(255, np.float32))
        self.init("c_half", np.array(128, np.uint8))
        self.nodes += [
            helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["image_f", "c_scale"], [self.name(inp)]),
        ]
        for i in range(g.OperatorsLength()):
            op = g.Operators(i)
            kind = self.opcodes[op.OpcodeIndex()]
            ins = op.InputsAsNumpy().tolist()
            outs = op.OutputsAsNumpy().tolist()
            getattr(self, "op_" + kind.lower().replace(":", "_"))(op, ins, outs[0], tfl)
        prob = self.name(outp)
        if background:
            self.nodes.append(helper.make_node("Sub", ["c_one", prob], ["person"]))
            prob = "person"
        self.nodes += [
            helper.make_node("Squeeze", [prob, self.init("c_axis1", np.array([1]))], ["p"]),
            helper.make_node("Clip", ["p", "c_zero", "c_one"], ["p_clip"]),
            helper.make_node("Mul", ["p_clip", "c_255"], ["p_255"]),
            helper.make_node("Round", ["p_255"], ["p_round"]),
            helper.make_node("Cast", ["p_round"], ["confidence"], to=TensorProto.UINT8),
            helper.make_node("GreaterOrEqual", ["confidence", "c_half"], ["is_person"]),
            helper.make_node("Cast", ["is_person"], ["mask"], to=TensorProto.UINT8),
        ]
        graph = helper.make_graph(
            self.nodes,
            out_name,
            [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", c, h, w])],
            [
                helper.make_tensor_value_info("mask", TensorProto.UINT8, ["batch", h, w]),
                helper.make_tensor_value_info("confidence", TensorProto.UINT8, ["batch", h, w]),
            ],
            self.inits,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="segwidget scripts/convert_selfie.py",
            producer_version=VERSION,
        )
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model

    # --- ops -------------------------------------------------------------------------------

    def op_dequantize(self, op, ins, out, tfl):
        self.consts[out] = self.consts[ins[0]].astype(np.float32)

    def op_conv_2d(self, op, ins, out, tfl, depthwise=False):
        cls = tfl.DepthwiseConv2DOptions if depthwise else tfl.Conv2DOptions
        o = self.options(op, cls)
        weight = self.consts[ins[1]].astype(np.float32)  # OHWI, depthwise 1HWC
        _, ih, iw, cin = self.shape(ins[0])
        _, oh, ow, _ = self.shape(out)
        if depthwise:
            weight = weight.transpose(3, 0, 1, 2)  # C x 1 x H x W
            group = cin
        else:
            weight = weight.transpose(0, 3, 1, 2)
            group = 1
        kh, kw = weight.shape[2:]
        sh, sw = o.StrideH(), o.StrideW()
        dh, dw = o.DilationHFactor(), o.DilationWFactor()
        if o.Padding() == PAD_SAME:
            top, bottom = same_pads(ih, oh, kh, sh, dh)
            left, right = same_pads(iw, ow, kw, sw, dw)
        else:
            top = bottom = left = right = 0
        args = [self.name(ins[0]), self.init(f"{self.name(out)}_w", weight)]
        if len(ins) > 2 and ins[2] >= 0:
            args.append(self.init(f"{self.name(out)}_b", self.consts[ins[2]].astype(np.float32)))
        raw = f"{self.name(out)}_raw"
        self.nodes.append(
            helper.make_node(
                "Conv",
                args,
                [raw],
                kernel_shape=[kh, kw],
                strides=[sh, sw],
                dilations=[dh, dw],
                pads=[top, left, bottom, right],
                group=group,
            )
        )
        self.finish(raw, out, o.FusedActivationFunction())

    def op_depthwise_conv_2d(self, op, ins, out, tfl):
        self.op_conv_2d(op, ins, out, tfl, depthwise=True)

    def finish(self, raw: str, out: int, fused: int) -> None:
        """Name ``raw`` as tflite tensor ``out``, after its fused activation (if any)."""
        if fused == 0:  # tflite.ActivationFunctionType.NONE
            self.nodes.append(helper.make_node("Identity", [raw], [self.name(out)]))
        elif fused == 1:  # RELU
            self.nodes.append(helper.make_node("Relu", [raw], [self.name(out)]))
        elif fused == 3:  # RELU6
            six = self.scalar("c_six", 6.0)
            self.nodes.append(helper.make_node("Clip", [raw, "c_zero", six], [self.name(out)]))
        else:
            raise NotImplementedError(f"fused activation {fused}")

    def elementwise(self, kind: str, ins, out, fused: int) -> None:
        raw = f"{self.name(out)}_raw"
        self.nodes.append(helper.make_node(kind, [self.operand(t) for t in ins], [raw]))
        self.finish(raw, out, fused)

    def op_add(self, op, ins, out, tfl):
        fused = self.options(op, tfl.AddOptions).FusedActivationFunction()
        self.elementwise("Add", ins, out, fused)

    def op_mul(self, op, ins, out, tfl):
        fused = self.options(op, tfl.MulOptions).FusedActivationFunction()
        self.elementwise("Mul", ins, out, fused)

    def unary(self, kind: str, ins, out) -> None:
        self.nodes.append(helper.make_node(kind, [self.name(ins[0])], [self.name(out)]))

    def op_hard_swish(self, op, ins, out, tfl):
        self.unary("HardSwish", ins, out)

    def op_relu(self, op, ins, out, tfl):
        self.unary("Relu", ins, out)

    def op_logistic(self, op, ins, out, tfl):
        self.unary("Sigmoid", ins, out)

    def op_average_pool_2d(self, op, ins, out, tfl):
        o = self.options(op, tfl.Pool2DOptions)
        _, ih, iw, _ = self.shape(ins[0])
        _, oh, ow, _ = self.shape(out)
        kh, kw = o.FilterHeight(), o.FilterWidth()
        if (oh, ow) == (1, 1) and (kh, kw) == (ih, iw) and o.Padding() == PAD_VALID:
            raw = f"{self.name(out)}_raw"
            self.nodes.append(helper.make_node("GlobalAveragePool", [self.name(ins[0])], [raw]))
            self.finish(raw, out, o.FusedActivationFunction())
            return
        raise NotImplementedError(f"AVERAGE_POOL_2D {kh}x{kw} on {ih}x{iw} -> {oh}x{ow}")

    def op_mean(self, op, ins, out, tfl):
        axes = sorted(int(a) for a in self.consts[ins[1]].ravel())
        if axes != [1, 2] or not self.options(op, tfl.ReducerOptions).KeepDims():
            raise NotImplementedError(f"MEAN over NHWC axes {axes}")
        self.nodes.append(
            helper.make_node("ReduceMean", [self.name(ins[0])], [self.name(out)], axes=[2, 3])
        )

    def op_resize_bilinear(self, op, ins, out, tfl):
        o = self.options(op, tfl.ResizeBilinearOptions)
        _, ih, iw, _ = self.shape(ins[0])
        oh, ow = (int(v) for v in self.consts[ins[1]].ravel())
        if oh % ih or ow % iw:
            raise NotImplementedError(f"RESIZE_BILINEAR {ih}x{iw} -> {oh}x{ow}")
        if o.AlignCorners():
            mode = "align_corners"
        elif o.HalfPixelCenters():
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        # Integer scales rather than sizes: sizes would pin the batch dimension.
        scales = self.init(f"{self.name(out)}_s", np.array([1, 1, oh / ih, ow / iw], np.float32))
        self.nodes.append(
            helper.make_node(
                "Resize",
                [self.name(ins[0]), "", scales],
                [self.name(out)],
                mode="linear",
                coordinate_transformation_mode=mode,
            )
        )

    def op_custom_convolution2dtransposebias(self, op, ins, out, tfl):
        padding, stride_w, stride_h = struct.unpack("<3i", op.CustomOptionsAsNumpy().tobytes())
        weight = self.consts[ins[1]].astype(np.float32)  # O x kH x kW x I
        bias = self.consts[ins[2]].astype(np.float32)
        _, kh, kw, _ = weight.shape
        _, ih, iw, _ = self.shape(ins[0])
        # The kernel's rule (mediapipe/util/tflite/operations/transpose_conv_bias.cc).
        pad_h = pad_w = 0
        if padding == TRANSPOSE_PAD_SAME:
            pad_h = max(0, kh - (ih - 1) % stride_h - 1)
            pad_w = max(0, kw - (iw - 1) % stride_w - 1)
        _, oh, ow, _ = self.shape(out)
        assert (oh, ow) == (stride_h * (ih - 1) + kh - pad_h, stride_w * (iw - 1) + kw - pad_w)
        self.nodes.append(
            helper.make_node(
                "ConvTranspose",
                [
                    self.name(ins[0]),
                    self.init(f"{self.name(out)}_w", weight.transpose(3, 0, 1, 2)),
                    self.init(f"{self.name(out)}_b", bias),
                ],
                [self.name(out)],
                kernel_shape=[kh, kw],
                strides=[stride_h, stride_w],
                pads=[pad_h // 2, pad_w // 2, pad_h - pad_h // 2, pad_w - pad_w // 2],
            )
        )


def convert_file(tflite_path: Path) -> onnx.ModelProto:
    conv = Converter(tflite_path.read_bytes())
    out_tensor = conv.graph.Tensors(conv.graph.Outputs(0)).Name().decode()
    model = conv.convert(tflite_path.stem, out_tensor in BACKGROUND_OUTPUTS)
    model.doc_string = (
        f"{tflite_path.name} from the npm package {PACKAGE}@{VERSION} (Apache-2.0), converted "
        "by segwidget's scripts/convert_selfie.py. In: uint8 N x 3 x H x W RGB. Out: mask "
        "(person probability >= 0.5) and confidence (probability x 255), uint8 N x H x W."
    )
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "segwidget" / "models")
    parser.add_argument("--package", type=Path, help="an unpacked npm package folder")
    args = parser.parse_args(argv)
    folder, tmp = find_package(args.package)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for source, target in MODELS.items():
            model = convert_file(folder / source)
            path = args.out / target
            path.write_bytes(model.SerializeToString(deterministic=True))
            print(f"{source} -> {path} ({path.stat().st_size} bytes)")
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
