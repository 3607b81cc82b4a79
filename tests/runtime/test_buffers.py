"""Buffer planning: bytes of every device and pinned buffer for an engine's profile max shapes."""
from __future__ import annotations

import numpy as np
import pytest

from trtmatte.errors import TrtmatteError
from trtmatte.runtime.buffers import TensorSpec, numpy_dtype, plan_io, shape_fits

IMAGE = TensorSpec("image", True, np.dtype(np.uint8), (-1, -1, -1, 3))


def alpha_rule(dtype):
    spec = TensorSpec("alpha", False, np.dtype(dtype), (-1, -1, -1))
    return spec, lambda shapes: {"alpha": shapes["image"][:3]}


@pytest.mark.parametrize("dtype,itemsize", [(np.uint8, 1), (np.float16, 2), (np.float32, 4)])
@pytest.mark.parametrize("max_shape", [(1, 800, 800, 3), (4, 1024, 1024, 3), (2, 1024, 320, 3)])
def test_whole_pipeline_graph_sizes(dtype, itemsize, max_shape):
    alpha, rule = alpha_rule(dtype)
    plan = plan_io([IMAGE, alpha], {"image": max_shape}, rule)
    n, h, w, c = max_shape
    assert plan["image"].nbytes == n * h * w * 3
    assert plan["alpha"].nbytes == n * h * w * itemsize
    assert plan["alpha"].max_shape == (n, h, w)
    assert plan.device_bytes == plan.pinned_bytes == n * h * w * (3 + itemsize)
    assert [b.name for b in plan.inputs] == ["image"] and [b.name for b in plan.outputs] == ["alpha"]


def test_double_buffering_doubles_everything():
    alpha, rule = alpha_rule(np.uint8)
    one = plan_io([IMAGE, alpha], {"image": (1, 800, 800, 3)}, rule)
    two = plan_io([IMAGE, alpha], {"image": (1, 800, 800, 3)}, rule, slots=2)
    assert two.device_bytes == 2 * one.device_bytes == 2 * 800 * 800 * 4
    assert two.to_dict()["buffers"][1] == {"name": "alpha", "io": "output", "dtype": "uint8",
                                          "max_shape": [1, 800, 800], "nbytes": 640000}


def test_debug_outputs_and_static_inputs():
    fg = TensorSpec("fg", False, np.dtype(np.float32), (-1, -1, -1))
    static = TensorSpec("image", True, np.dtype(np.uint8), (1, 64, 64, 3))
    plan = plan_io([static, fg], {}, lambda s: {"fg": (1, 64, 64)})
    assert plan["image"].max_shape == (1, 64, 64, 3) and plan["fg"].nbytes == 64 * 64 * 4


@pytest.mark.parametrize("profile,tensors,match", [
    ({}, [IMAGE], "dynamic shape .* no max shape"),
    ({"image": (1, 800, 800)}, [IMAGE], "does not fit its shape"),
    ({"image": (1, 800, 800, 4)}, [IMAGE], "does not fit its shape"),
    ({"image": (0, 800, 800, 3)}, [IMAGE], "non-positive"),
    ({"image": (1, 8, 8, 3)}, [IMAGE, TensorSpec("alpha", False, np.dtype(np.uint8), (-1, -1))], "cannot size output 'alpha'"),
])
def test_bad_plans_one_line(profile, tensors, match):
    with pytest.raises(TrtmatteError, match=match) as info:
        plan_io(tensors, profile, lambda s: {"alpha": (-1, 8)} if len(tensors) > 1 else {}, slots=1)
    assert "\n" not in str(info.value)


def test_dtypes_and_shape_fits():
    assert numpy_dtype("HALF", "alpha") == np.float16 and numpy_dtype("UINT8", "x") == np.uint8
    with pytest.raises(TrtmatteError, match="type BF16"):
        numpy_dtype("BF16", "alpha")
    assert shape_fits((1, 100, 100, 3), (1, 16, 16, 3), (2, 128, 128, 3))
    assert not shape_fits((1, 200, 100, 3), (1, 16, 16, 3), (2, 128, 128, 3))
    assert not shape_fits((100, 100, 3), (1, 16, 16, 3), (2, 128, 128, 3))
