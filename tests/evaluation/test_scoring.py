"""trtmatte.evaluation: pairing a dataset by name, reading ground truth (trtmatte.media.image's
strict readers), and scoring it against hand-computed SAD / MSE (Grad and Conn against
trtmatte.evaluation.metrics called directly), per region.

The "model" is exact: it returns the image's red channel / 255, so each test knows the prediction."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trtmatte.evaluation import metrics as M
from trtmatte.errors import TrtmatteError
from trtmatte.evaluation import (DEFAULT_BAND, Sample, check_sizes, evaluate_dataset, format_table, iter_evaluate,
                                 pair_dataset, score)
from trtmatte.media.image import read_alpha, read_trimap

pytest.importorskip("cv2", reason="the Grad metric needs OpenCV")
pytest.importorskip("scipy", reason="the Conn metric needs SciPy")

from helpers.eval_data import GT8, PRED8, TRIMAP  # noqa: E402


class RedChannel:
    """A Matter stand-in: alpha = red / 255, float32 [1, H, W]; labelled like a session."""

    reason = "test stand-in"

    class info:  # noqa: N801 - mimics SessionInfo
        label = "red-channel test model"

        @staticmethod
        def to_dict():
            return {"backend": "test", "precision": "fp32"}

    def __init__(self):
        self.calls = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        return (image[..., 0].astype(np.float32) / 255.0)[None]


def rgb(red: np.ndarray) -> np.ndarray:
    return np.stack([red, np.full_like(red, 77), np.full_like(red, 200)], axis=-1)


def write_dataset(root: Path, trimaps: bool = False) -> dict[str, Path]:
    """a: the prediction above (PNG image, 8-bit alpha); b: a perfect prediction (TIFF image,
    16-bit alpha, so pairing ignores suffixes and 16-bit ground truth is scaled)."""
    dirs = {k: root / k for k in ("images", "alphas") + (("trimaps",) if trimaps else ())}
    for d in dirs.values():
        d.mkdir()
    Image.fromarray(rgb(PRED8)).save(dirs["images"] / "a.png")
    Image.fromarray(GT8).save(dirs["alphas"] / "a.png")
    Image.fromarray(rgb(GT8)).save(dirs["images"] / "b.tif")
    Image.fromarray(GT8.astype(np.uint16) * 257).save(dirs["alphas"] / "b.png")
    if trimaps:
        Image.fromarray(TRIMAP).save(dirs["trimaps"] / "a.png")
        Image.fromarray(TRIMAP).save(dirs["trimaps"] / "b.png")
    return dirs


def test_hand_computed_sad_mse_for_each_region():
    pred, gt = PRED8 / 255.0, GT8 / 255.0
    # full image: 4 px off by 0.2 and 2 px off by 1
    full = score(pred, gt, band=0)["full"]
    assert full["sad"] == pytest.approx((4 * 0.2 + 2 * 1.0) / 1000)
    assert full["mse"] == pytest.approx((4 * 0.04 + 2 * 1.0) / 256)
    # band 0: the transition itself, columns 6-9 (64 px): only the 0.2 errors
    s = score(pred, gt, band=0)
    assert s["region_pixels"] == 64
    assert s["region"]["sad"] == pytest.approx(4 * 0.2 / 1000)
    assert s["region"]["mse"] == pytest.approx(4 * 0.04 / 64)
    # band 2: columns 4-11 (128 px): same sum, larger region
    s = score(pred, gt, band=2)
    assert s["region_pixels"] == 128
    assert s["region"]["sad"] == pytest.approx(4 * 0.2 / 1000)
    assert s["region"]["mse"] == pytest.approx(4 * 0.04 / 128)
    # the default band (10 px) covers the whole 16x16 image
    s = score(pred, gt, band=DEFAULT_BAND)
    assert s["region_pixels"] == 256 and s["region"] == s["full"]
    # trimap: the 16 unknown px hold the two 1.0 errors and none of the 0.2 ones
    s = score(pred, gt, trimap=TRIMAP)
    assert s["region_pixels"] == 16
    assert s["region"]["sad"] == pytest.approx(2 * 1.0 / 1000)
    assert s["region"]["mse"] == pytest.approx(2 * 1.0 / 16)
    # Grad and Conn: trtmatte.evaluation.metrics over the same masks
    mask = M.region_mask(gt, trimap=TRIMAP)
    assert s["region"]["grad"] == pytest.approx(M.gradient_error(pred, gt, mask))
    assert s["region"]["conn"] == pytest.approx(M.connectivity_error(pred, gt, mask))
    assert s["full"]["grad"] == pytest.approx(M.gradient_error(pred, gt)) and s["full"]["grad"] > 0
    assert s["full"]["conn"] == pytest.approx(M.connectivity_error(pred, gt))


def test_evaluate_dataset_band(tmp_path):
    dirs = write_dataset(tmp_path)
    samples = pair_dataset(dirs["images"], dirs["alphas"])
    assert [(s.name, s.image.name, s.alpha.name, s.trimap) for s in samples] == [
        ("a", "a.png", "a.png", None), ("b", "b.tif", "b.png", None)]
    matter = RedChannel()
    report = evaluate_dataset(matter, samples, band=2, progress=False)
    assert matter.calls == 2
    a, b = report["images"]
    assert (a["name"], a["width"], a["height"], a["region_pixels"]) == ("a", 16, 16, 128)
    assert a["region"]["sad"] == pytest.approx(0.0008) and a["region"]["mse"] == pytest.approx(0.00125)
    assert a["full"]["sad"] == pytest.approx(0.0028) and a["full"]["mse"] == pytest.approx(2.16 / 256)
    pred, gt = PRED8 / 255.0, GT8 / 255.0
    assert a["region"]["grad"] == pytest.approx(M.gradient_error(pred, gt, M.region_mask(gt, band=2)))
    assert a["region"]["conn"] == pytest.approx(M.connectivity_error(pred, gt, M.region_mask(gt, band=2)))
    # b: perfect prediction, and its 16-bit ground truth scaled to exactly GT8 / 255
    assert b["region"] == {"sad": 0.0, "mse": 0.0, "grad": 0.0, "conn": 0.0} == b["full"]
    # the mean is the plain mean over images
    for region in ("region", "full"):
        for metric in ("sad", "mse", "grad", "conn"):
            assert report["mean"][region][metric] == pytest.approx(a[region][metric] / 2)
    assert report["schema"] == "trtmatte.eval/1"
    assert report["backend"]["label"] == "red-channel test model" and report["backend"]["reason"] == "test stand-in"
    assert report["settings"]["region"] == "band" and report["settings"]["band_px"] == 2
    assert report["settings"]["trimaps"] is None
    assert report["counts"] == {"images": 2, "pixels": 512, "region_pixels": 256, "empty_region": 0}
    json.dumps(report, allow_nan=False)  # strict JSON: no NaN anywhere
    table = format_table(report)
    assert table[-1].startswith("mean") and any(line.startswith("a ") for line in table)
    assert len({len(line) for line in table[1:]}) == 1  # fixed width


def test_evaluate_dataset_trimap_region(tmp_path):
    dirs = write_dataset(tmp_path, trimaps=True)
    samples = pair_dataset(dirs["images"], dirs["alphas"], dirs["trimaps"])
    report = evaluate_dataset(RedChannel(), samples, progress=False)
    a = report["images"][0]
    assert a["region_pixels"] == 16
    assert a["region"]["sad"] == pytest.approx(0.002) and a["region"]["mse"] == pytest.approx(0.125)
    assert report["settings"]["region"] == "trimap" and report["settings"]["band_px"] is None
    with pytest.raises(TrtmatteError, match="not both"):
        evaluate_dataset(RedChannel(), samples, band=3, progress=False)


def test_empty_region_has_no_mse_and_is_left_out_of_its_mean(tmp_path):
    pred, gt = PRED8 / 255.0, GT8 / 255.0
    s = score(pred, gt, trimap=np.zeros((16, 16), np.uint8))
    assert s["region_pixels"] == 0 and s["region"]["mse"] is None and s["region"]["sad"] == 0.0
    dirs = write_dataset(tmp_path, trimaps=True)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(dirs["trimaps"] / "b.png")
    report = evaluate_dataset(RedChannel(), pair_dataset(*dirs.values()), progress=False)
    assert report["counts"]["empty_region"] == 1
    assert report["mean"]["region"]["mse"] == pytest.approx(0.125)  # a's only
    assert report["mean"]["region"]["sad"] == pytest.approx(0.001)  # (a + 0) / 2
    json.dumps(report, allow_nan=False)
    assert "n/a" in "\n".join(format_table(report))


def test_prediction_is_scored_as_saved_8_bit_unless_float(tmp_path):
    dirs = write_dataset(tmp_path)
    samples = pair_dataset(dirs["images"], dirs["alphas"])[1:]  # b: perfect to 8 bits

    def nudged(image):  # 0.3/255 off everywhere: rounds back to the exact 8-bit value
        return np.clip(image[..., 0].astype(np.float64) / 255.0 + 0.3 / 255.0, 0, 1)[None]

    saved = evaluate_dataset(nudged, samples, band=0, progress=False)
    raw = evaluate_dataset(nudged, samples, band=0, quantize=False, progress=False)
    assert saved["images"][0]["full"]["sad"] == 0.0
    assert raw["images"][0]["full"]["sad"] == pytest.approx(((GT8 < 255).sum()) * 0.3 / 255 / 1000)
    assert raw["backend"]["label"] == "function"


def test_pairing_errors_name_how_many_and_the_first_few(tmp_path):
    images, alphas, trimaps = (tmp_path / d for d in ("images", "alphas", "trimaps"))
    for d in (images, alphas, trimaps):
        d.mkdir()
    for name in ("a", "b", "c", "d", "e"):
        (images / f"{name}.jpg").write_bytes(b"x")
    for name in ("a", "b", "z"):
        (alphas / f"{name}.png").write_bytes(b"x")
    (alphas / ".DS_Store").write_bytes(b"x")
    (alphas / "notes.txt").write_text("not a dataset file")
    with pytest.raises(TrtmatteError) as exc:
        pair_dataset(images, alphas)
    message = str(exc.value)
    assert "\n" not in message
    assert f"3 images have no alpha in {alphas} (c, d, e)" in message
    assert f"1 alpha has no image in {images} (z)" in message
    for name in ("c", "d", "e", "f"):
        (alphas / f"{name}.png").write_bytes(b"x")
    (alphas / "z.png").unlink()
    (images / "f.jpeg").write_bytes(b"x")
    (trimaps / "a.png").write_bytes(b"x")
    with pytest.raises(TrtmatteError, match=r"5 images have no trimap in .* \(b, c, d, \.\.\. \(2 more\)\)"):
        pair_dataset(images, alphas, trimaps)
    assert [s.name for s in pair_dataset(images, alphas)] == ["a", "b", "c", "d", "e", "f"]
    (images / "a.png").write_bytes(b"x")
    with pytest.raises(TrtmatteError, match="two files named 'a' .*a.jpg and a.png"):
        pair_dataset(images, alphas)
    with pytest.raises(TrtmatteError, match="not found"):
        pair_dataset(tmp_path / "nope", alphas)
    (images / "a.png").unlink()
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrtmatteError, match="alphas folder .*empty has no image files"):
        pair_dataset(images, tmp_path / "empty")


def test_size_mismatch_names_the_file_and_both_sizes(tmp_path):
    dirs = write_dataset(tmp_path, trimaps=True)
    Image.fromarray(np.zeros((16, 12), np.uint8)).save(dirs["alphas"] / "b.png")
    samples = pair_dataset(*dirs.values())
    with pytest.raises(TrtmatteError) as exc:
        check_sizes(samples)
    assert str(exc.value) == (f"alpha {dirs['alphas'] / 'b.png'} is 12x16 but image {dirs['images'] / 'b.tif'} is "
                              "16x16 (sizes are width x height; they must match)")
    matter = RedChannel()
    with pytest.raises(TrtmatteError, match="12x16"):
        evaluate_dataset(matter, samples, progress=False)
    assert matter.calls == 0  # every header is checked before the first inference
    Image.fromarray(GT8).save(dirs["alphas"] / "b.png")
    Image.fromarray(np.zeros((15, 16), np.uint8)).save(dirs["trimaps"] / "a.png")
    with pytest.raises(TrtmatteError, match=r"trimap .*a.png is 16x15 but image .*a.png is 16x16"):
        check_sizes(pair_dataset(*dirs.values()))


def test_exif_rotation_counts_in_the_size_check(tmp_path):
    """A phone photo stored 16 wide x 12 high with orientation 6 is shown 12 x 16: its alpha is 12 x 16."""
    photo = Image.fromarray(np.zeros((12, 16, 3), np.uint8))
    exif = photo.getexif()
    exif[0x0112] = 6
    photo.save(tmp_path / "p.jpg", exif=exif)
    Image.fromarray(np.zeros((16, 12), np.uint8)).save(tmp_path / "p.png")
    check_sizes([Sample("p", tmp_path / "p.jpg", tmp_path / "p.png")])
    Image.fromarray(np.zeros((12, 16), np.uint8)).save(tmp_path / "p.png")
    with pytest.raises(TrtmatteError, match="is 16x12 but image .* is 12x16"):
        check_sizes([Sample("p", tmp_path / "p.jpg", tmp_path / "p.png")])


def test_read_alpha_formats(tmp_path):
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(ramp).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(read_alpha(tmp_path / "grey.png"), ramp / 255.0)
    Image.fromarray(ramp.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    np.testing.assert_allclose(read_alpha(tmp_path / "grey16.png"), ramp / 255.0, atol=1e-12)
    Image.fromarray(np.repeat(ramp[..., None], 3, axis=-1)).save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(read_alpha(tmp_path / "rgb.png"), ramp / 255.0)
    cutout = np.dstack([np.full((16, 16, 3), 90, np.uint8), ramp])  # RGBA cut-out: the matte is its transparency
    Image.fromarray(cutout).save(tmp_path / "cutout.png")
    np.testing.assert_array_equal(read_alpha(tmp_path / "cutout.png"), ramp / 255.0)
    Image.fromarray(rgb(ramp)).save(tmp_path / "photo.png")
    with pytest.raises(TrtmatteError, match="colour image .*images folder"):
        read_alpha(tmp_path / "photo.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(TrtmatteError, match="cannot read alpha"):
        read_alpha(tmp_path / "broken.png")
    with pytest.raises(TrtmatteError, match="megapixels, over the limit of 0 .*--max-pixels"):
        read_alpha(tmp_path / "grey.png", max_pixels=200)  # over the limit: checked from the header
    with pytest.raises(TrtmatteError, match="too large to decode safely .*--max-pixels"):
        read_alpha(tmp_path / "grey.png", max_pixels=100)  # far over the limit: the same header check


def test_read_trimap_accepts_only_0_128_255(tmp_path):
    Image.fromarray(TRIMAP).save(tmp_path / "t.png")
    np.testing.assert_array_equal(read_trimap(tmp_path / "t.png", strict=True), TRIMAP)
    Image.fromarray(TRIMAP.astype(np.uint16) * 257).save(tmp_path / "t16.png")
    np.testing.assert_array_equal(read_trimap(tmp_path / "t16.png", strict=True), TRIMAP)
    noisy = TRIMAP.copy()
    noisy[0, :5] = 127
    Image.fromarray(noisy).save(tmp_path / "noisy.png")
    with pytest.raises(TrtmatteError, match=r"values other than 0/128/255: 127 \(5 px\)"):
        read_trimap(tmp_path / "noisy.png", strict=True)


def test_backend_faults_are_one_line_errors(tmp_path):
    dirs = write_dataset(tmp_path)
    samples = pair_dataset(dirs["images"], dirs["alphas"])
    with pytest.raises(TrtmatteError, match="NaN or infinite alpha for .*a.png"):
        evaluate_dataset(lambda image: np.full((1, 16, 16), np.nan, np.float32), samples, progress=False)
    with pytest.raises(TrtmatteError, match="returned a 8x8 alpha"):
        evaluate_dataset(lambda image: np.zeros((1, 8, 8), np.float32), samples, progress=False)
    with pytest.raises(TrtmatteError, match="non-negative"):
        evaluate_dataset(RedChannel(), samples, band=-1, progress=False)


class RedTrimap(RedChannel):
    """A trimap model stand-in (``needs_trimap``): red / 255 with the trimap's known regions
    imposed, as AdaMatting's graph does; it keeps the trimaps it was given."""

    needs_trimap = True

    class info(RedChannel.info):  # noqa: N801
        variant = "red_trimap_test"

    def __init__(self):
        super().__init__()
        self.trimaps = []

    def __call__(self, image: np.ndarray, trimap: np.ndarray | None = None) -> np.ndarray:
        assert trimap is not None and trimap.dtype == np.uint8 and trimap.shape == image.shape[:2]
        self.trimaps.append(trimap.copy())
        red = super().__call__(image)[0]
        return np.where(trimap > 170, 1.0, np.where(trimap < 85, 0.0, red)).astype(np.float32)[None]


def test_trimap_models_are_fed_each_samples_trimap(tmp_path):
    dirs = write_dataset(tmp_path, trimaps=True)
    other = TRIMAP.copy()
    other[8:, :] = 128  # b's trimap differs from a's: each image must get its own
    Image.fromarray(other).save(dirs["trimaps"] / "b.png")
    samples = pair_dataset(dirs["images"], dirs["alphas"], dirs["trimaps"])
    model = RedTrimap()
    report = evaluate_dataset(model, samples, progress=False)
    assert len(model.trimaps) == 2
    assert np.array_equal(model.trimaps[0], TRIMAP) and np.array_equal(model.trimaps[1], other)
    assert report["settings"]["model_trimaps"] == "dataset"
    for row, red, trimap in zip(report["images"], (PRED8, GT8), (TRIMAP, other)):
        pred = np.where(trimap > 170, 1.0, np.where(trimap < 85, 0.0, red / 255.0))
        assert row["full"]["sad"] == pytest.approx(M.sad(pred, GT8 / 255.0))
        assert row["region"]["sad"] == pytest.approx(M.sad(pred, GT8 / 255.0, trimap == 128))
    # a trimap-free model is not given the trimaps, which only define the region
    assert evaluate_dataset(RedChannel(), samples, progress=False)["settings"]["model_trimaps"] is None


def test_trimap_model_without_trimaps_fails_before_any_inference(tmp_path):
    dirs = write_dataset(tmp_path)
    samples = pair_dataset(dirs["images"], dirs["alphas"])
    model = RedTrimap()
    with pytest.raises(TrtmatteError, match=r"^model red_trimap_test needs trimaps: give --trimaps DIR .* or "
                                            r"--trimap auto \(derived by Late Fusion\)$"):
        evaluate_dataset(model, samples, progress=False)
    with pytest.raises(TrtmatteError, match="needs trimaps"):
        next(iter_evaluate(model, samples))
    assert model.calls == 0
