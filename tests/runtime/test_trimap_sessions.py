"""Sessions, Matter and the pipelined executor with a trimap model: onnxruntime and PyTorch agree,
every bad trimap is one line on every backend, Batch items carry the trimap, and --trimap auto's
session (Late Fusion's F and B -> trimap -> AdaMatting) equals doing it by hand."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime")
pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos")

from trtmatte.errors import TrtmatteError  # noqa: E402
from trtmatte.runtime import OrtSession  # noqa: E402
from trtmatte.runtime.matter import Matter  # noqa: E402
from trtmatte.runtime.session import Batch  # noqa: E402
from trtmatte.trimap import AutoTrimapOptions, auto_trimap, from_rough_mask, resize_probability  # noqa: E402


@pytest.fixture(scope="module")
def ada(adamatting_export):
    onnx_path, ckpt, _ = adamatting_export
    return onnx_path, ckpt


@pytest.fixture(scope="module")
def picture(photo):
    image = np.asarray(Image.fromarray(photo).resize((120, 90)))
    return image, from_rough_mask(image)


@pytest.fixture(scope="module")
def lf_debug(tmp_path_factory):
    """A tiny stand-in for Late Fusion (tests/helpers/tiny_model.py) exported with its F, B outputs."""
    from helpers.tiny_model import TinyMatting

    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.models import get_config

    path = tmp_path_factory.mktemp("lf_debug") / "lf_debug.onnx"
    export_onnx(TinyMatting(), "late_fusion", get_config("late_fusion").preprocessing, path,
                ExportOptions(debug_outputs=True))
    return path


def test_onnxruntime_and_torch_agree_with_a_trimap(ada, picture):
    onnx_path, ckpt = ada
    image, trimap = picture
    ort_alpha = Matter("onnxruntime", onnx=onnx_path)(image[None], trimap[None])
    with Matter("torch", weights=ckpt, max_side=256) as torch_matter:
        assert torch_matter.needs_trimap
        torch_alpha = torch_matter(image[None], trimap[None])
        raw = torch_matter.session.run_raw(image[None], trimap[None])
    assert np.abs(ort_alpha - torch_alpha).max() <= 1 / 255 + 1e-6
    assert set(raw) == {"alpha", "trimap_adapted", "alpha_decoder"}


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_bad_trimaps_are_one_line_on_every_backend(backend, ada, picture, tiny_onnx):
    onnx_path, ckpt = ada
    image, trimap = picture
    matter = Matter(backend, onnx=onnx_path, weights=ckpt)
    cases = [(None, "needs a trimap"), (trimap[:50], "the trimap is 120x50 but the image is 120x90"),
             (trimap.astype(np.float32), "must be a uint8")]
    for bad, match in cases:
        with pytest.raises(TrtmatteError, match=match) as err:
            matter(image[None], None if bad is None else bad[None])
        assert "\n" not in str(err.value)
    free = Matter("onnxruntime", onnx=tiny_onnx)
    assert not free.needs_trimap
    with pytest.raises(TrtmatteError, match="takes no trimap"):
        free.matte(image, trimap)


def test_matte_takes_trimap_files_pil_images_and_arrays(ada, picture, tmp_path):
    image, trimap = picture
    Image.fromarray(image).save(tmp_path / "photo.png")
    Image.fromarray(trimap).save(tmp_path / "photo_trimap.png")
    matter = Matter("onnxruntime", onnx=ada[0])
    by_path = matter.matte(tmp_path / "photo.png", trimap=tmp_path / "photo_trimap.png")
    assert np.array_equal(by_path, matter.matte(image, Image.fromarray(trimap)))
    assert np.array_equal(by_path, matter.matte(image, trimap))
    assert by_path.shape == (90, 120) and (by_path[trimap == 255] == 1).all()
    cut = matter.cutout(image, "rgba", trimap=trimap)
    assert cut.shape == (90, 120, 4)
    results = list(matter.run_files([tmp_path / "photo.png"] * 3, trimaps=[tmp_path / "photo_trimap.png"] * 3))
    assert all(r.ok and np.array_equal(r.value, by_path) for r in results)


def test_pipeline_items_carry_their_trimap(ada, picture):
    from trtmatte.runtime.pipelined import Pipeline, as_submitter

    image, trimap = picture
    session = OrtSession(ada[0])
    items = [Batch(image[None], trimap[None]), image[None], Batch(image[None], trimap[None, :10])]
    results = list(Pipeline(as_submitter(session)).run(items))
    assert results[0].ok and np.array_equal(results[0].value, session.run(image[None], trimap[None]))
    assert "needs a trimap" in str(results[1].error) and "the trimap is" in str(results[2].error)


def test_auto_trimap_session_equals_doing_it_by_hand(ada, picture, lf_debug):
    from trtmatte.runtime.auto_trimap_session import AutoTrimapSession

    image, _ = picture
    options = AutoTrimapOptions(confidence=0.9, dilation=3)
    lf, matting = OrtSession(lf_debug), OrtSession(ada[0])
    session = AutoTrimapSession(lf, matting, options)
    assert not session.needs_trimap and "trimap: auto from late_fusion" in session.info.variant
    raw = lf.run_raw(image[None])
    by_hand = auto_trimap(resize_probability(raw["fg"][0], 90, 120), resize_probability(raw["bg"][0], 90, 120), options)
    assert np.array_equal(session.trimaps(image[None])[0], by_hand)
    assert np.array_equal(session.run(image[None]), matting.run(image[None], by_hand[None]))
    with pytest.raises(TrtmatteError, match="takes no trimap"):
        session.run(image[None], by_hand[None])


def test_matter_with_auto_trimap_and_its_errors(ada, picture, lf_debug, tiny_onnx):
    image, _ = picture
    with Matter("onnxruntime", onnx=ada[0], auto_trimap=AutoTrimapOptions(), trimap_model=lf_debug) as matter:
        assert not matter.needs_trimap and "trimap: auto" in matter.reason
        alpha = matter.matte(image)
    assert alpha.shape == (90, 120)
    with pytest.raises(TrtmatteError, match="has no F and B outputs: re-export it with `trtmatte export --debug-outputs`"):
        Matter("onnxruntime", onnx=ada[0], auto_trimap=AutoTrimapOptions(), trimap_model=tiny_onnx)
    with pytest.raises(TrtmatteError, match="is trimap-free: drop --trimap"):
        Matter("onnxruntime", onnx=tiny_onnx, auto_trimap=AutoTrimapOptions(), trimap_model=lf_debug)
    with pytest.raises(TrtmatteError, match="must be a trimap-free Late Fusion model"):
        Matter("onnxruntime", onnx=ada[0], auto_trimap=AutoTrimapOptions(), trimap_model=ada[0])


def test_bench_feeds_a_trimap_to_trimap_models(ada):
    from trtmatte.bench.runner import BenchConfig, run_bench

    result = run_bench(OrtSession(ada[0]), BenchConfig(height=64, width=96, runs=2, warmup=1, pipeline_images=2))
    assert result["runs"] == 2 and result["pipelined"]["images"] == 2
    assert any("synthetic ellipse trimap" in note for note in result["notes"])
