"""libtrtmatte's C ABI from Python through ctypes: real photos through the bundled model's graph give
Python onnxruntime's alpha (<= 1/255); strided rows, batches and float alpha graphs; every error
path returns its status with a one-line message and leaves nothing open."""
from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

OK, INVALID_ARGUMENT, NOT_FOUND, UNSUPPORTED, INCOMPATIBLE = 0, 1, 2, 3, 4
u8p = ctypes.POINTER(ctypes.c_uint8)


class CApi:
    """The functions of trtmatte/trtmatte_c.h, typed."""

    def __init__(self, path):
        lib = self.lib = ctypes.CDLL(str(path))
        lib.trtmatte_open.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.trtmatte_matte.argtypes = [ctypes.c_void_p, u8p, ctypes.c_int, ctypes.c_int, ctypes.c_size_t, u8p]
        lib.trtmatte_matte_batch.argtypes = [ctypes.c_void_p, u8p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                             ctypes.c_size_t, u8p]
        lib.trtmatte_matte_trimap.argtypes = [ctypes.c_void_p, u8p, ctypes.c_int, ctypes.c_int, ctypes.c_size_t, u8p,
                                              ctypes.c_size_t, u8p]
        lib.trtmatte_matte_batch_trimap.argtypes = [ctypes.c_void_p, u8p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                                    ctypes.c_size_t, u8p, ctypes.c_size_t, u8p]
        lib.trtmatte_needs_trimap.argtypes = [ctypes.c_void_p]
        lib.trtmatte_close.argtypes = [ctypes.c_void_p]
        lib.trtmatte_describe.argtypes = [ctypes.c_void_p]
        for name in ("trtmatte_describe", "trtmatte_last_error", "trtmatte_version"):
            getattr(lib, name).restype = ctypes.c_char_p

    def open(self, path) -> tuple[int, ctypes.c_void_p]:
        handle = ctypes.c_void_p(123)  # must come back NULL on failure
        status = self.lib.trtmatte_open(str(path).encode(), None, ctypes.byref(handle))
        return status, handle

    def last_error(self) -> str:
        return self.lib.trtmatte_last_error().decode()

    def matte(self, handle, rgb: np.ndarray) -> np.ndarray:
        """Alpha of an [H, W, 3] uint8 view (rows may be strided; pixels must be packed)."""
        assert rgb.strides[1:] == (3, 1)
        alpha = np.zeros(rgb.shape[:2], np.uint8)
        status = self.lib.trtmatte_matte(handle, rgb.ctypes.data_as(u8p), rgb.shape[0], rgb.shape[1], rgb.strides[0],
                                         alpha.ctypes.data_as(u8p))
        assert status == OK, self.last_error()
        return alpha

    def matte_trimap(self, handle, rgb: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        """Alpha of an [H, W, 3] uint8 view and its [H, W] trimap view (rows of either may be strided)."""
        assert rgb.strides[1:] == (3, 1) and trimap.strides[1] == 1
        alpha = np.zeros(rgb.shape[:2], np.uint8)
        status = self.lib.trtmatte_matte_trimap(handle, rgb.ctypes.data_as(u8p), rgb.shape[0], rgb.shape[1],
                                                rgb.strides[0], trimap.ctypes.data_as(u8p), trimap.strides[0],
                                                alpha.ctypes.data_as(u8p))
        assert status == OK, self.last_error()
        return alpha


@pytest.fixture(scope="session")
def capi(cpp_build) -> CApi:
    return CApi(cpp_build.library)


def opened(capi, graph):
    """A handle on ``graph`` for a fixture to yield; closed when the fixture ends."""
    status, handle = capi.open(graph)
    assert status == OK, capi.last_error()
    yield handle
    capi.lib.trtmatte_close(handle)


@pytest.fixture(scope="session")
def matter(capi, graph):
    yield from opened(capi, graph)


def test_real_photos_match_python_onnxruntime(capi, matter, photos, python_alpha, diff_255):
    assert "onnxruntime" in capi.lib.trtmatte_describe(matter).decode()
    for name, (_, rgb) in photos.items():
        assert diff_255(capi.matte(matter, rgb), python_alpha[name]) <= 1.0, name


def test_strided_rows_and_batches(capi, matter, photos):
    rgb = photos["chelsea"][1][:96, :128]  # a crop: rows 451 * 3 bytes apart
    assert rgb.strides[0] == 451 * 3
    packed = capi.matte(matter, np.ascontiguousarray(rgb))
    np.testing.assert_array_equal(capi.matte(matter, rgb), packed)
    batch = np.ascontiguousarray(np.stack([rgb, rgb[::-1]]))
    alpha = np.zeros((2, 96, 128), np.uint8)
    assert capi.lib.trtmatte_matte_batch(matter, batch.ctypes.data_as(u8p), 2, 96, 128, 128 * 3,
                                         alpha.ctypes.data_as(u8p)) == OK, capi.last_error()
    singles = [packed, capi.matte(matter, np.ascontiguousarray(rgb[::-1]))]
    for got, want in zip(alpha, singles):  # a batch of two runs other kernels than two single images
        assert np.abs(got.astype(int) - want).max() <= 1


def test_concurrent_calls_on_one_handle(capi, matter, photos):
    crops = [np.ascontiguousarray(photos["coffee"][1][i * 40:i * 40 + 64, :80]) for i in range(4)]
    want = [capi.matte(matter, c) for c in crops]
    with ThreadPoolExecutor(4) as pool:  # ctypes releases the GIL: the calls really overlap
        got = list(pool.map(lambda c: capi.matte(matter, c), crops * 2))
    for g, w in zip(got, want * 2):
        np.testing.assert_array_equal(g, w)


def test_float_alpha_graphs_are_rounded_to_the_nearest_level(capi, float_alpha_graph, photos, diff_255):
    from trtmatte.runtime.ort_session import OrtSession

    status, handle = capi.open(float_alpha_graph)
    assert status == OK, capi.last_error()
    try:
        rgb = np.ascontiguousarray(photos["astronaut"][1][::4, ::4])
        assert diff_255(capi.matte(handle, rgb), OrtSession(float_alpha_graph).run(rgb[None])[0]) <= 0.5
    finally:
        capi.lib.trtmatte_close(handle)


def one_line_error(capi, status, expected_status, *parts):
    message = capi.last_error()
    assert status == expected_status, message
    assert "\n" not in message and all(p in message for p in parts), message


def test_opening_errors(capi, tmp_path):
    status, handle = capi.open(tmp_path / "missing.onnx")
    one_line_error(capi, status, NOT_FOUND, "missing.onnx not found")
    assert handle.value is None
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    one_line_error(capi, capi.open(tmp_path / "photo.png")[0], UNSUPPORTED, "is neither an exported ONNX graph")
    (tmp_path / "text.onnx").write_text("not a graph")
    one_line_error(capi, capi.open(tmp_path / "text.onnx")[0], UNSUPPORTED, "onnxruntime cannot load", "text.onnx")
    one_line_error(capi, capi.lib.trtmatte_open(None, None, ctypes.byref(ctypes.c_void_p())), INVALID_ARGUMENT,
                   "model_path is NULL")
    one_line_error(capi, capi.lib.trtmatte_open(b"x.onnx", None, None), INVALID_ARGUMENT, "matter (the out pointer) is NULL")


def test_not_a_trtmatte_graph(capi, tmp_path):
    onnx = pytest.importorskip("onnx", reason="writing a foreign ONNX graph needs the onnx package")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["pixels"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "relu.onnx")
    one_line_error(capi, capi.open(tmp_path / "relu.onnx")[0], UNSUPPORTED,
                   "is not a trtmatte whole-pipeline graph (expects uint8 input 'image', and 'trimap' for trimap models)")


def test_float16_body_int8_graph_is_refused(capi, graph, tmp_path):
    """onnxruntime would truncate its float16 QuantizeLinear (trtmatte/contract/ort_rounding.py);
    the C++ onnxruntime backend, which cannot rewrite the graph, refuses it in one line."""
    onnx = pytest.importorskip("onnx", reason="stamping a graph's metadata needs the onnx package")
    from trtmatte.contract import read_metadata, stamp_metadata
    from trtmatte.contract.names import INT8_BODY, PRECISION

    model = onnx.load(str(graph))
    stamp_metadata(model, {**read_metadata(model), PRECISION: "int8", INT8_BODY: "fp16"})
    onnx.save(model, tmp_path / "int8_fp16_body.onnx")
    one_line_error(capi, capi.open(tmp_path / "int8_fp16_body.onnx")[0], UNSUPPORTED, "int8_fp16_body.onnx",
                   "float16 body", "truncates", "--int8-body fp32")
    stamp_metadata(model, {**read_metadata(model), INT8_BODY: "fp32"})
    onnx.save(model, tmp_path / "int8_fp32_body.onnx")
    status, handle = capi.open(tmp_path / "int8_fp32_body.onnx")
    assert status == OK, capi.last_error()
    capi.lib.trtmatte_close(handle)


def test_running_errors(capi, matter):
    rgb = np.zeros((8, 8, 3), np.uint8)
    alpha = np.zeros((8, 8), np.uint8)
    a, r = alpha.ctypes.data_as(u8p), rgb.ctypes.data_as(u8p)
    m = capi.lib.trtmatte_matte
    one_line_error(capi, m(None, r, 8, 8, 24, a), INVALID_ARGUMENT, "matter is NULL")
    one_line_error(capi, m(matter, None, 8, 8, 24, a), INVALID_ARGUMENT, "rgb is a null pointer")
    one_line_error(capi, m(matter, r, 8, 8, 24, None), INVALID_ARGUMENT, "alpha is a null pointer")
    one_line_error(capi, m(matter, r, 0, 8, 24, a), INVALID_ARGUMENT, "must be positive, got count 1, 0x8")
    one_line_error(capi, m(matter, r, 8, -3, 24, a), INVALID_ARGUMENT, "must be positive")
    one_line_error(capi, m(matter, r, 8, 8, 23, a), INVALID_ARGUMENT, "row_stride 23 is smaller than a row of 8 RGB pixels")
    one_line_error(capi, capi.lib.trtmatte_matte_batch(matter, r, -1, 8, 8, 24, a), INVALID_ARGUMENT, "count -1")
    assert capi.lib.trtmatte_matte(matter, r, 8, 8, 24, a) == OK  # the handle still works after errors


def test_tensorrt_plan_without_tensorrt_is_one_line(capi, cpp_build, tmp_path):
    from trtmatte.engine.sidecar import EngineMeta, write_sidecar

    plan = tmp_path / "m.plan"
    plan.write_bytes(b"not really a plan")
    if not cpp_build.with_tensorrt:
        one_line_error(capi, capi.open(plan)[0], UNSUPPORTED, "built without the TensorRT backend")
        return
    status, _ = capi.open(plan)  # the sidecar is read first, TensorRT or not
    one_line_error(capi, status, NOT_FOUND, f"{plan} has no sidecar m.plan.json")
    write_sidecar(plan, EngineMeta("tensorrt", "11.1.0.106", "fp32", {}, "", "m.onnx", rebuild_command="trtmatte build"))
    status, handle = capi.open(plan)
    assert handle.value is None
    try:
        ctypes.CDLL("libnvinfer.so.11")
        pytest.skip("TensorRT 11 is installed here: opening the plan goes past 'TensorRT not found'")
    except OSError:
        pass
    one_line_error(capi, status, NOT_FOUND, "TensorRT not found: libnvinfer.so.11", "ONNX Runtime backend")


def test_onnxruntime_not_found_is_one_line(cpp_build, graph):
    # The library is loaded once per process, so this runs in a fresh one.
    code = ("import ctypes, json, sys; lib = ctypes.CDLL(sys.argv[1]); lib.trtmatte_last_error.restype = ctypes.c_char_p;"
            "h = ctypes.c_void_p(); s = lib.trtmatte_open(sys.argv[2].encode(), None, ctypes.byref(h));"
            "print(json.dumps([s, lib.trtmatte_last_error().decode()]))")
    r = subprocess.run([sys.executable, "-c", code, str(cpp_build.library), str(graph)], capture_output=True, text=True,
                       timeout=60, env={"TRTMATTE_ONNXRUNTIME_LIBRARY": "/nowhere/libonnxruntime.so.1", "PATH": ""})
    status, message = json.loads(r.stdout)
    assert status == NOT_FOUND and message.startswith("ONNX Runtime not found (/nowhere/libonnxruntime.so.1: "), message
    assert "TRTMATTE_ONNXRUNTIME_LIBRARY" in message and "\n" not in message


def test_last_error_is_per_thread(capi, matter):
    rgb = np.zeros((4, 4, 3), np.uint8)
    alpha = np.zeros((4, 4), np.uint8)
    capi.lib.trtmatte_matte(matter, rgb.ctypes.data_as(u8p), 4, 4, 5, alpha.ctypes.data_as(u8p))
    here = capi.last_error()
    with ThreadPoolExecutor(1) as pool:
        there = pool.submit(lambda: (capi.lib.trtmatte_matte(matter, None, 4, 4, 12, alpha.ctypes.data_as(u8p)),
                                     capi.last_error())).result()
    assert "row_stride 5" in here and there[1] == "rgb is a null pointer" and capi.last_error() == here
    assert capi.lib.trtmatte_version().decode().count(".") == 2


# ---- trimap models (AdaMatting) ----

@pytest.fixture(scope="module")
def ada(capi, ada_graph):
    yield from opened(capi, ada_graph)


def test_trimap_model_matches_python_onnxruntime(capi, ada, matter, ada_inputs, ada_python_alpha, diff_255):
    assert capi.lib.trtmatte_needs_trimap(ada) == 1 and capi.lib.trtmatte_needs_trimap(matter) == 0
    assert capi.lib.trtmatte_needs_trimap(None) == -1
    described = capi.lib.trtmatte_describe(ada).decode()
    assert "variant adamatting_lite" in described and "takes a trimap" in described
    for name, (_, rgb, _, trimap) in ada_inputs.items():
        alpha = capi.matte_trimap(ada, rgb, trimap)
        assert diff_255(alpha, ada_python_alpha[name]) <= 1.0, name
        # the trimap reached the graph: its known regions are imposed, and the unknown band varies
        assert (alpha[trimap == 255] == 255).all() and (alpha[trimap == 0] == 0).all()
        assert np.ptp(alpha[trimap == 128]) > 64


def test_trimap_strided_rows_batches_and_thresholds(capi, ada, ada_graph, ada_inputs):
    from trtmatte.runtime.ort_session import OrtSession

    _, rgb, _, trimap = ada_inputs["astronaut"]
    h, w = trimap.shape
    want = capi.matte_trimap(ada, rgb, trimap)
    # rows inside wider buffers, for the image and the trimap alike
    wide_rgb, wide_trimap = np.zeros((h, w + 7, 3), np.uint8), np.full((h, w + 13), 77, np.uint8)
    wide_rgb[:, :w], wide_trimap[:, :w] = rgb, trimap
    assert np.array_equal(capi.matte_trimap(ada, wide_rgb[:, :w], wide_trimap[:, :w]), want)
    # a batch of two, each image with its own trimap
    flipped = np.ascontiguousarray(trimap[:, ::-1])
    rgbs, trimaps = np.stack([rgb, rgb]), np.stack([trimap, flipped])
    alphas = np.zeros((2, h, w), np.uint8)
    assert capi.lib.trtmatte_matte_batch_trimap(ada, rgbs.ctypes.data_as(u8p), 2, h, w, w * 3,
                                                trimaps.ctypes.data_as(u8p), w, alphas.ctypes.data_as(u8p)) == OK
    assert np.array_equal(alphas[0], want) and np.array_equal(alphas[1], capi.matte_trimap(ada, rgb, flipped))
    # values other than 0/128/255 (a JPEG'd trimap) are read by the graph's thresholds, as in Python
    smeared = np.select([trimap == 0, trimap == 255], [np.uint8(60), np.uint8(200)], np.uint8(100))
    python = OrtSession(ada_graph).run(rgb[None], smeared[None])[0]
    assert np.abs(capi.matte_trimap(ada, rgb, smeared) / 255.0 - python).max() <= 1 / 255 + 1e-6
    assert np.array_equal(capi.matte_trimap(ada, rgb, smeared), want)  # 60 -> 0, 200 -> 255, 100 -> 128


def test_trimap_errors_name_the_call_to_use(capi, ada, matter):
    rgb, trimap, alpha = np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)
    r, t, a = rgb.ctypes.data_as(u8p), trimap.ctypes.data_as(u8p), alpha.ctypes.data_as(u8p)
    one_line_error(capi, capi.lib.trtmatte_matte(ada, r, 8, 8, 24, a), INVALID_ARGUMENT,
                   "the adamatting_lite model needs a trimap (uint8 [H, W]: 0 background, 128 unknown, 255 foreground)",
                   "C: trtmatte_matte_trimap")
    one_line_error(capi, capi.lib.trtmatte_matte_batch(ada, r, 1, 8, 8, 24, a), INVALID_ARGUMENT, "needs a trimap")
    one_line_error(capi, capi.lib.trtmatte_matte_trimap(matter, r, 8, 8, 24, t, 8, a), INVALID_ARGUMENT,
                   "model takes no trimap (it is trimap-free): drop the trimap", "C: trtmatte_matte)")
    one_line_error(capi, capi.lib.trtmatte_matte_trimap(ada, r, 8, 8, 24, None, 8, a), INVALID_ARGUMENT,
                   "trtmatte_matte_trimap: trimap is NULL")
    one_line_error(capi, capi.lib.trtmatte_matte_batch_trimap(ada, r, 1, 8, 8, 24, t, 7, a), INVALID_ARGUMENT,
                   "trimap_stride 7 is smaller than a row of 8 trimap pixels")
    one_line_error(capi, capi.lib.trtmatte_matte_trimap(None, r, 8, 8, 24, t, 8, a), INVALID_ARGUMENT, "matter is NULL")
    assert capi.lib.trtmatte_matte_trimap(ada, r, 8, 8, 24, t, 8, a) == OK  # still works after errors


def test_recorded_inputs_must_be_the_graphs(capi, ada_graph, tmp_path):
    onnx = pytest.importorskip("onnx")

    model = onnx.load(str(ada_graph))
    next(p for p in model.metadata_props if p.key == "trtmatte.inputs").value = "image"
    onnx.save(model, tmp_path / "relabelled.onnx")
    one_line_error(capi, capi.open(tmp_path / "relabelled.onnx")[0], INCOMPATIBLE,
                   "records inputs 'image' but has 'image,trimap'", "export it again with `trtmatte export`")
