"""`trtmatte matte` end to end, as a user runs it: folders, bad inputs, resume, interrupt, defaults."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from helpers.images import save_image  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def trtmatte(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trtmatte", "matte", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=600, **kwargs)


save = save_image


def partial_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".part") or p.name.startswith(".")]


def test_every_bad_input_is_one_line_and_the_batch_goes_on(tmp_path, tiny_onnx):
    src, out = tmp_path / "in", tmp_path / "out"
    good = [save(src / "ok1.png", (40, 30), 1), save(src / "nested" / "ok2.jpg", (25, 50), 2),
            save(src / "nested" / "deeper" / "thin.png", (1, 200), 3)]
    bad = {"corrupt.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "truncated.png": good[0].read_bytes()[:70],
           "empty.jpg": b"", "nested/readme.png": b"not an image at all\n"}
    for name, data in bad.items():
        (src / name).write_bytes(data)
    Image.new("L", (2500, 2000)).save(src / "bomb.png")  # 5 MP, refused by --max-pixels below
    save(src / "blocked" / "x.png")
    (src / "phone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")  # a type the job does not read
    out.mkdir()
    (out / "blocked").write_text("a file where the output folder should go")  # an unwritable output

    r = trtmatte(str(src), "-o", str(out), "--onnx", str(tiny_onnx), "--max-pixels", "4000000")
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    errors = [e for e in lines if e.startswith("trtmatte: error: ")]
    assert len(errors) == 6 and len(lines) == 7, r.stderr
    for name in ("corrupt.png", "truncated.png", "empty.jpg", "readme.png", "bomb.png", "blocked"):
        assert sum(name in e for e in errors) == 1, (name, errors)
    assert [e for e in lines if e.startswith("trtmatte: skipped: ")][0].count("phone.heic: unsupported type .heic") == 1
    assert "Traceback" not in r.stderr
    assert "done 3, skipped 0, failed 6" in r.stdout and "skipped 1 unsupported (phone.heic)" in r.stdout
    for path in good:
        written = out / path.relative_to(src).with_suffix(".png")
        assert Image.open(written).size == Image.open(path).size
    assert partial_files(out) == []


def test_one_image_default_model_and_resume(tmp_path):
    """No model flags: the bundled demo graph on the fastest backend here, said in one line."""
    src = save(tmp_path / "photo.png", (64, 96))
    r = trtmatte(str(src), "-o", str(tmp_path / "alpha.png"))
    assert r.returncode == 0, r.stderr
    assert "backend: onnxruntime" in r.stdout and "auto: onnxruntime on cpu" in r.stdout
    assert Image.open(tmp_path / "alpha.png").size == (96, 64)
    r = trtmatte(str(tmp_path), "-o", str(tmp_path / "out"), "--ext", "png", "--skip-existing")
    assert r.returncode == 0 and "done 2" in r.stdout  # photo.png and alpha.png themselves
    r = trtmatte(str(tmp_path / "photo.png"), str(tmp_path / "alpha.png"), "-o", str(tmp_path / "out"),
                 "--skip-existing")
    assert r.returncode == 0 and "done 0, skipped 2" in r.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly(tmp_path, tiny_onnx, signum):
    """SIGINT (or SIGTERM) in the middle of a folder: exit 130 (143), a summary line, and every
    file in the output is complete. Waits on events: the first output appearing, the process
    exiting; never on a time budget."""
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(200):
        save(src / f"{i:03d}.png", (48, 48), i)
    proc = subprocess.Popen([sys.executable, "-m", "trtmatte", "matte", str(src), "-o", str(out), "--jobs", "1",
                             "--onnx", str(tiny_onnx), "--output-type", "rgba"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (out.is_dir() and any(out.glob("*.png"))) and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signum)
    stdout, err = proc.communicate()
    assert proc.returncode == (130 if signum == signal.SIGINT else 143), err
    assert ("interrupted" if signum == signal.SIGINT else "terminated") in err and "Traceback" not in err
    assert "skipped 0, failed 0" in stdout.splitlines()[-1]  # the summary line, after the interrupt
    written = sorted(out.glob("*.png"))
    assert 1 <= len(written) < 200
    for path in written:
        with Image.open(path) as im:
            im.load()  # complete files only
            assert im.size == (48, 48)
    assert partial_files(out) == []


def test_no_input_is_ever_overwritten_and_bad_outputs_fail_before_the_model(tmp_path):
    """``matte d -o d`` and ``matte f.png -o f.png`` are refused in one line with every input byte
    unchanged; ``-o d/out`` twice never makes d/out/out; ``-o /proc/x`` and an ill-suffixed or
    unwritable output fail in one line before the model loads (no "backend:" line)."""
    from helpers.hostile import digest

    d = tmp_path / "d"
    photos = [save(d / f"p{i}.png", (40, 56), i) for i in range(3)]
    before = digest(d)
    for args, message in ((["-o", str(d)], "is the input folder"),
                          (["-o", "/proc/trtmatte_x"], "creating a file in /proc fails"),
                          (["--max-pixels", "-5", "-o", str(tmp_path / "o")], "--max-pixels must be 0")):
        r = trtmatte(str(d), *args)
        assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "backend:" not in r.stdout
    for args, message in ((["-o", str(photos[0])], "is the input file"),
                          (["-o", "/sys/trtmatte.png"], "creating a file in /sys fails"),
                          (["-o", str(tmp_path / "x.txt")], ".txt is not an image type"),
                          (["-o", str(tmp_path / "x.jpg"), "--output-type", "rgba"], "has no alpha channel")):
        r = trtmatte(str(photos[0]), *args)
        assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert digest(d) == before
    for _ in range(2):
        r = trtmatte(str(d), "-o", str(d / "out"), "--no-progress")
        assert r.returncode == 0 and "done 3, skipped 0, failed 0" in r.stdout, r.stderr
    assert sorted(p.name for p in (d / "out").iterdir()) == ["p0.png", "p1.png", "p2.png"]
    assert {k: v for k, v in digest(d).items() if not k.startswith("out/")} == before


def test_stdin_to_stdout_gives_the_bytes_of_a_file_run(tmp_path):
    """``cat photo | trtmatte matte - -o - > a.png``: one PNG on stdout, nothing else there, the
    same bytes as ``trtmatte matte photo -o a.png`` (the bundled model)."""
    photo = save(tmp_path / "photo.jpg", (64, 80))
    assert trtmatte(str(photo), "-o", str(tmp_path / "a.png")).returncode == 0
    r = subprocess.run([sys.executable, "-m", "trtmatte", "matte", "-", "-o", "-"], input=photo.read_bytes(),
                       capture_output=True, cwd=REPO, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (tmp_path / "a.png").read_bytes()
    assert b"backend:" in r.stderr and b"Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "trtmatte", "matte", "-", "-o", str(tmp_path / "b.png")],
                       input=photo.read_bytes(), capture_output=True, cwd=REPO, timeout=600)
    assert r.returncode == 0 and (tmp_path / "b.png").read_bytes() == (tmp_path / "a.png").read_bytes(), r.stderr
    r = subprocess.run([sys.executable, "-m", "trtmatte", "matte", "-", "-o", "-"], input=b"GIF89a broken",
                       capture_output=True, cwd=REPO, timeout=600)
    assert r.returncode == 1 and r.stdout == b"" and r.stderr.decode().strip().splitlines()[-1].startswith(
        "trtmatte: error: cannot read image <stdin>")


def test_bad_arguments_are_refused_before_the_model_loads(tmp_path):
    save(tmp_path / "a.png"), save(tmp_path / "b.png")
    for args, expect in ((["--jobs", "0"], "--jobs must be at least 1"),
                         (["--smooth", "1.5"], "--smooth must be in [0, 1)"),
                         (["--bg-color", "#12"], "--bg-color must be #RRGGBB"),
                         (["--threads", "0"], "--threads must be at least 1"),
                         (["--output-type", "composite", "--bg-image", str(tmp_path / "none.jpg")], "none.jpg not found")):
        r = trtmatte(str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "out"), *args)
        assert r.returncode == 1 and expect in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = trtmatte(str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "out.png"))
    assert r.returncode == 1 and "need -o to be an existing directory" in r.stderr
    assert "backend:" not in r.stdout  # nothing was loaded


def test_watch_mattes_files_as_they_appear(tmp_path, tiny_onnx):
    """Waits on events (the outputs appearing, the process exiting), never on a time budget."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    save(inbox / "early.png", (20, 30), 1)
    proc = subprocess.Popen([sys.executable, "-m", "trtmatte", "matte", str(inbox), "-o", str(out), "--watch",
                             "--onnx", str(tiny_onnx)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)

    def wait_for(path: Path) -> None:
        while not path.exists():
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)

    try:
        wait_for(out / "early.png")
        save(inbox / "new" / "late.png", (25, 35), 2)  # arrives while it watches
        wait_for(out / "new" / "late.png")
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    assert "watch stopped" in stdout and "done 2, skipped 0, failed 0" in stdout
    assert Image.open(out / "new" / "late.png").size == (35, 25)


def test_videos_in_a_folder_come_out_as_videos(tmp_path, tiny_onnx):
    pytest.importorskip("av", reason="PyAV is needed for video (pip install 'trtmatte[video]')")
    from helpers.media import make_audio_only, make_video

    from trtmatte.media import video

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    make_video(src / "clip.mp4", 64, 48, frames=10, audio="aac")
    make_audio_only(src / "voice.mp4")
    save(src / "still.png")
    r = trtmatte(str(src), "-o", str(out), "--onnx", str(tiny_onnx), "--smooth", "0.3")
    assert r.returncode == 1, r.stderr  # the audio-only file fails, the rest is done
    assert r.stderr.count("trtmatte: error: ") == 1 and "voice.mp4: it has no video stream" in r.stderr
    assert "done 2, skipped 0, failed 1" in r.stdout
    info = video.probe(out / "clip.mp4")
    assert (info.width, info.height, info.frames, info.fps, info.has_audio) == (64, 48, 10, 25, True)
    assert (out / "still.png").is_file() and not (out / "voice.mp4").exists()


# ---- trimap models (AdaMatting) --------------------------------------------------------------

def save_trimap(path: Path, shape=(30, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    trimap = np.full(shape, 128, np.uint8)
    trimap[: shape[0] // 4] = 0
    trimap[-shape[0] // 4:] = 255
    Image.fromarray(trimap).save(path)
    return path


def test_trimap_folder_matched_by_name_and_every_bad_trimap_is_one_line(tmp_path, adamatting_export, tiny_onnx):
    onnx_path = adamatting_export[0]
    src, tri, out = tmp_path / "in", tmp_path / "trimaps", tmp_path / "out"
    save(src / "a.jpg", (30, 40), 1)
    save(src / "sub" / "b.png", (30, 40), 2)
    save(src / "no_trimap.png", (30, 40), 3)
    save(src / "small_trimap.png", (30, 40), 4)
    save_trimap(tri / "a.png")  # another suffix than its image: matched by stem
    save_trimap(tri / "sub" / "b.jpg")
    save_trimap(tri / "small_trimap.png", (20, 40))
    r = trtmatte(str(src), "-o", str(out), "--onnx", str(onnx_path), "--trimap", str(tri), "--no-progress")
    assert r.returncode == 1, r.stderr
    errors = r.stderr.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("trtmatte: error: ") for e in errors), r.stderr
    assert any("no_trimap.png: no trimap" in e for e in errors)
    assert any("small_trimap.png" in e and "the trimap is 40x20 but the image is 40x30" in e for e in errors)
    assert "done 2, skipped 0, failed 2" in r.stdout
    alpha = np.asarray(Image.open(out / "a.png"))
    assert (alpha[:7] == 0).all() and (alpha[-7:] == 255).all()  # the trimap's known regions, imposed
    assert (out / "sub" / "b.png").is_file()

    # a trimap model without trimaps, a trimap for a trimap-free model, one trimap file for a folder
    cases = [(["--onnx", str(onnx_path)], "adamatting_lite needs a trimap: give --trimap PATH_OR_DIR, or --trimap auto"),
             (["--onnx", str(tiny_onnx), "--trimap", str(tri)], "is trimap-free: drop --trimap"),
             (["--onnx", str(onnx_path), "--trimap", str(tri / "a.png")], "is one file, for one input image"),
             (["--onnx", str(onnx_path), "--trimap-model", "x.onnx"], "add --trimap auto"),
             (["--onnx", str(onnx_path), "--trimap", str(tmp_path / "nowhere")], "no such file or folder")]
    for args, message in cases:
        r = trtmatte(str(src), "-o", str(tmp_path / "out2"), *args, "--no-progress")
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and message in r.stderr, (args, r.stderr)


def test_one_image_one_trimap_and_trimap_auto(tmp_path, adamatting_export):
    onnx_path, ckpt, _ = adamatting_export
    image, trimap = save(tmp_path / "p.png", (30, 40)), save_trimap(tmp_path / "t.png")
    r = trtmatte(str(image), "-o", str(tmp_path / "alpha.png"), "--weights", str(ckpt), "--backend", "torch",
                 "--trimap", str(trimap), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "alpha.png").size == (40, 30)
    # --trimap auto with the bundled Late Fusion demo checkpoint (its F and B through PyTorch)
    r = trtmatte(str(image), "-o", str(tmp_path / "auto.png"), "--onnx", str(onnx_path), "--trimap", "auto",
                 "--trimap-dilate", "4", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "trimap: auto from torch" in r.stdout and "late_fusion_lite" in r.stdout
    assert Image.open(tmp_path / "auto.png").size == (40, 30)
