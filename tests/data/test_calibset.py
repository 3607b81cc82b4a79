"""Composite sets (`trtmatte calibset`): the compositing formula, determinism by seed, the
manifest, real and synthetic sources, and one-line errors that leave nothing behind."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from trtmatte.cli.main import main
from trtmatte.data import CalibsetOptions, build_calibset, composite, load_sample, read_manifest, transition_mask
from trtmatte.data import augment
from trtmatte.data.sources import Item, directory_foregrounds
from trtmatte.errors import TrtmatteError

SMALL = CalibsetOptions(count=6, crop_sizes=(48, 64), max_side=56, seed=3)


def test_composite_formula_on_a_hand_case():
    fg = np.array([[[200, 100, 0], [10, 20, 30]]], np.uint8)
    bg = np.array([[[0, 100, 250], [110, 120, 130]]], np.uint8)
    alpha = np.array([[0.25, 1.0]], np.float32)
    # 0.25*200 + 0.75*0 = 50; 0.25*100 + 0.75*100 = 100; 0.25*0 + 0.75*250 = 187.5 -> 188 (round half to even: 188)
    assert composite(fg, alpha, bg).tolist() == [[[50, 100, 188], [10, 20, 30]]]
    # uint8 alpha means 0..255: 51/255 = 0.2 -> 0.2*200 + 0.8*0 = 40
    assert composite(fg, np.array([[51, 0]], np.uint8), bg)[0, 0, 0] == 40
    assert composite(fg, np.array([[51, 0]], np.uint8), bg)[0, 1].tolist() == [110, 120, 130]


def test_composite_rejects_mismatched_sizes():
    with pytest.raises(TrtmatteError, match="does not match"):
        composite(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5)), np.zeros((4, 4, 3), np.uint8))


def test_crop_is_centred_on_a_transition_pixel():
    alpha = np.zeros((200, 300), np.uint8)
    alpha[150, 40] = 128  # the only transition pixel
    x, y, w, h = augment.crop_around_transition(alpha, 64, np.random.default_rng(0))
    assert (w, h) == (64, 64) and x <= 40 < x + 64 and y <= 150 < y + 64
    assert (x, y) == (40 - 32, 150 - 32)
    # near the border the crop is shifted inside, still containing the pixel
    alpha[:] = 0
    alpha[2, 298] = 9
    x, y, w, h = augment.crop_around_transition(alpha, 64, np.random.default_rng(0))
    assert (x, y) == (300 - 64, 0)


def test_rotation_keeps_alpha_zero_outside_the_foreground():
    fg = np.full((64, 64, 3), 200, np.uint8)
    alpha = np.full((64, 64), 255, np.uint8)
    _, rotated = augment.rotate(fg, alpha, 15.0)
    assert rotated[0, 0] == 0 and rotated[32, 32] == 255  # corners leave the frame, centre stays


@pytest.fixture(scope="module")
def synthetic_set(tmp_path_factory):
    pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos")
    from trtmatte.data.synthetic import skimage_backgrounds, synthetic_foregrounds

    out = tmp_path_factory.mktemp("sets") / "calib"
    build_calibset(synthetic_foregrounds(2, 96, seed=3), skimage_backgrounds("calib"), out, SMALL)
    return out


def test_synthetic_set_has_real_transitions_and_provenance(synthetic_set):
    samples = read_manifest(synthetic_set)
    assert [s.index for s in samples] == list(range(6))
    assert {s.fg for s in samples} == {"synthetic:seed3-fg0000-96px", "synthetic:seed3-fg0001-96px", "skimage:logo"}
    assert all(s.bg.startswith("skimage:") for s in samples)
    settings = json.loads((synthetic_set / "calibset.json").read_text())
    assert settings["options"]["seed"] == 3 and settings["formula"] == "I = alpha*F + (1-alpha)*B"
    for s in samples:
        image, alpha = load_sample(s)
        assert image.shape[:2] == alpha.shape == tuple(s.size) and max(alpha.shape) <= 56
    synthetic = [load_sample(s)[1] for s in samples if s.fg.startswith("synthetic")]
    assert all(transition_mask(a).mean() > 0.01 for a in synthetic)  # soft edges/hair in every crop


def test_same_seed_same_bytes_other_seed_differs(synthetic_set, tmp_path):
    from trtmatte.data.synthetic import skimage_backgrounds, synthetic_foregrounds

    again = build_calibset(synthetic_foregrounds(2, 96, seed=3), skimage_backgrounds("calib"), tmp_path / "again",
                           SMALL)
    for name in ("manifest.jsonl", "images/000004.png", "alphas/000005.png"):
        assert (again / name).read_bytes() == (synthetic_set / name).read_bytes(), name
    # a sample depends on (seed, index) only: a shorter set is a prefix of the longer one
    short = build_calibset(synthetic_foregrounds(2, 96, seed=3), skimage_backgrounds("calib"), tmp_path / "short",
                           CalibsetOptions(**{**SMALL.__dict__, "count": 2}))
    assert (short / "images/000001.png").read_bytes() == (synthetic_set / "images/000001.png").read_bytes()
    other = build_calibset(synthetic_foregrounds(2, 96, seed=4), skimage_backgrounds("calib"), tmp_path / "other",
                           CalibsetOptions(**{**SMALL.__dict__, "seed": 4}))
    assert (other / "manifest.jsonl").read_bytes() != (synthetic_set / "manifest.jsonl").read_bytes()


def test_heldout_backgrounds_are_disjoint():
    from trtmatte.data.synthetic import BACKGROUNDS

    assert not set(BACKGROUNDS["calib"]) & set(BACKGROUNDS["heldout"])


def _write(path, array, mode):
    Image.fromarray(array, mode=mode).save(path)
    return path


@pytest.fixture()
def user_dirs(tmp_path):
    """A user's dataset: one RGB foreground + greyscale alpha, one RGBA foreground, one background."""
    fg, al, bg, rgba = (tmp_path / d for d in ("fg", "alpha", "bg", "rgba"))
    for d in (fg, al, bg, rgba):
        d.mkdir()
    yy, xx = np.mgrid[:80, :80]
    alpha = np.clip((40 - np.hypot(yy - 40, xx - 40)) * 40, 0, 255).astype(np.uint8)  # disc with a soft rim
    colour = np.zeros((80, 80, 3), np.uint8)
    colour[..., 0] = 255
    _write(fg / "disc.png", colour, "RGB")
    _write(al / "disc.png", alpha, "L")
    _write(rgba / "disc.png", np.dstack([colour, alpha]), "RGBA")
    _write(bg / "blue.png", np.dstack([np.zeros((60, 90), np.uint8)] * 2 + [np.full((60, 90), 255, np.uint8)]), "RGB")
    return tmp_path


def test_directory_sources_compose_exactly(user_dirs, tmp_path):
    options = CalibsetOptions(count=2, crop_sizes=(80,), max_side=80, max_angle=0, flip=False)
    out = build_calibset(directory_foregrounds(user_dirs / "fg", user_dirs / "alpha"),
                         [Item("blue", lambda: np.asarray(Image.open(user_dirs / "bg" / "blue.png").convert("RGB")))],
                         tmp_path / "set", options)
    image, alpha = load_sample(read_manifest(out)[0])
    expected_alpha = np.asarray(Image.open(user_dirs / "alpha" / "disc.png")).astype(np.float32) / 255
    assert np.array_equal(alpha, expected_alpha)  # no flip, no rotation, the whole 80x80 image
    red = np.rint(255 * expected_alpha)
    assert np.abs(image[..., 0].astype(int) - red).max() <= 1 and np.abs(image[..., 2].astype(int) - (255 - red)).max() <= 1
    # an RGBA foreground gives the same composite
    rgba = build_calibset(directory_foregrounds(user_dirs / "rgba", None),
                          [Item("blue", lambda: np.asarray(Image.open(user_dirs / "bg" / "blue.png").convert("RGB")))],
                          tmp_path / "rgba-set", options)
    assert np.array_equal(load_sample(read_manifest(rgba)[0])[0], image)


def run_cli(capsys, *argv):
    code = main(["calibset", *map(str, argv)])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("setup, args, message", [
    (lambda d: None, ["--fg", "{d}/nope", "--alpha", "{d}/alpha", "--bg", "{d}/bg"], "foreground directory"),
    (lambda d: (d / "empty").mkdir(), ["--fg", "{d}/empty", "--alpha", "{d}/alpha", "--bg", "{d}/bg"], "has no images"),
    (lambda d: _write(d / "alpha" / "disc.png", np.zeros((70, 80), np.uint8), "L"),
     ["--fg", "{d}/fg", "--alpha", "{d}/alpha", "--bg", "{d}/bg"], "must match pixel for pixel"),
    (lambda d: _write(d / "alpha" / "disc.png", np.zeros((80, 80, 3), np.uint8), "RGB"),
     ["--fg", "{d}/fg", "--alpha", "{d}/alpha", "--bg", "{d}/bg"], "single-channel"),
    (lambda d: (d / "bg" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really"),
     ["--fg", "{d}/fg", "--alpha", "{d}/alpha", "--bg", "{d}/bg"], "broken.png"),
    (lambda d: None, ["--fg", "{d}/fg", "--bg", "{d}/bg"], "has no alpha channel"),
    (lambda d: None, ["--fg", "{d}/fg", "--alpha", "{d}/alpha", "--bg", "{d}/bg", "--synthetic"], "either --fg"),
    (lambda d: None, ["--fg", "{d}/fg", "--alpha", "{d}/alpha", "--bg", "{d}/bg", "-n", "0"], "-n must be"),
])
def test_bad_input_is_one_line_and_writes_nothing(user_dirs, capsys, setup, args, message):
    setup(user_dirs)
    code, err = run_cli(capsys, *[a.format(d=user_dirs) for a in args], "-o", user_dirs / "out", "--crop", "64")
    assert code == 1 and message in err and err.count("\n") == 0 and err.startswith("trtmatte: error:")
    assert not (user_dirs / "out").exists()
    assert not [p for p in user_dirs.iterdir() if p.name.startswith(".out.partial")]


def test_failure_midway_leaves_no_manifest(user_dirs, tmp_path):
    def broken():
        raise TrtmatteError("cannot decode image bg/evil.png: truncated")

    items = directory_foregrounds(user_dirs / "fg", user_dirs / "alpha")
    good = Item("blue", lambda: np.zeros((60, 90, 3), np.uint8))
    with pytest.raises(TrtmatteError, match="evil.png"):
        # background 1 is drawn for some sample after sample 0 was written
        build_calibset(items, [good, Item("evil", broken)], tmp_path / "set",
                       CalibsetOptions(count=20, crop_sizes=(64,), max_side=64))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alpha", "bg", "fg", "rgba"]  # the inputs only


def test_existing_nonempty_output_is_refused(user_dirs, capsys):
    (user_dirs / "out").mkdir()
    (user_dirs / "out" / "keep.txt").write_text("mine")
    code, err = run_cli(capsys, "--fg", user_dirs / "fg", "--alpha", user_dirs / "alpha", "--bg", user_dirs / "bg",
                        "-o", user_dirs / "out")
    assert code == 1 and "not an empty directory" in err and (user_dirs / "out" / "keep.txt").read_text() == "mine"


def test_cli_writes_a_readable_set(user_dirs, capsys):
    code = main(["calibset", "--fg", str(user_dirs / "fg"), "--alpha", str(user_dirs / "alpha"), "--bg",
                 str(user_dirs / "bg"), "-n", "3", "-o", str(user_dirs / "out"), "--crop", "64", "--seed", "7"])
    assert code == 0 and "wrote 3 composites" in capsys.readouterr().out
    samples = read_manifest(user_dirs / "out")
    assert len(samples) == 3 and all(s.fg.endswith("disc.png") and s.bg.endswith("blue.png") for s in samples)


def test_manifest_pointing_at_missing_file_is_one_line(synthetic_set, tmp_path):
    import shutil

    copy = shutil.copytree(synthetic_set, tmp_path / "copy")
    (copy / "alphas" / "000002.png").unlink()
    with pytest.raises(TrtmatteError, match="000002.png, which is missing") as info:
        read_manifest(copy)
    assert "\n" not in str(info.value)
