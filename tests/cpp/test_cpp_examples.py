"""The examples: trtmatte-cpp on real photos gives Python onnxruntime's alpha (<= 1/255), with the
CLI's error handling; trtmatte-httpd answers 64 concurrent requests from 16 clients on loopback,
every one correct, none lost, clear 4xx for bad requests, and stops cleanly on SIGTERM."""
from __future__ import annotations

import http.client
import io
import json
import queue
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image


def read_png(data_or_path) -> np.ndarray:
    src = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    with Image.open(src) as im:
        assert im.mode == "L"
        return np.array(im)


def run_cli(cpp_build, *args, timeout=600):
    return subprocess.run([str(cpp_build.bin("trtmatte-cpp")), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def test_trtmatte_cpp_matches_python_on_real_photos(cpp_build, graph, photos, python_alpha, diff_255, tmp_path):
    missing = tmp_path / "missing.png"
    r = run_cli(cpp_build, "--model", graph, *(p for p, _ in photos.values()), missing, "-o", tmp_path / "mattes")
    assert r.returncode == 1  # one input failed ...
    assert r.stderr.strip() == f"trtmatte-cpp: error: image {missing} not found"
    assert r.stdout.startswith("trtmatte-cpp: onnxruntime ") and "late_fusion_lite" in r.stdout.splitlines()[0]
    for name in photos:  # ... and the others were written
        assert diff_255(read_png(tmp_path / "mattes" / f"{name}.png"), python_alpha[name]) <= 1.0, name
    assert not list((tmp_path / "mattes").glob(".*"))  # no temporary files left


def test_trtmatte_cpp_one_image_and_errors(cpp_build, graph, photos, tmp_path):
    crop = tmp_path / "crop.png"
    Image.fromarray(photos["coffee"][1][:64, :96]).save(crop)
    r = run_cli(cpp_build, "-m", graph, crop, "-o", tmp_path / "alpha.png")
    assert r.returncode == 0, r.stderr
    assert read_png(tmp_path / "alpha.png").shape == (64, 96)
    usage = run_cli(cpp_build, crop, "-o", tmp_path / "x.png")
    assert usage.returncode == 2 and usage.stderr.splitlines()[-1] == "trtmatte-cpp: error: --model is required"
    (tmp_path / "junk.png").write_text("not an image")
    bad = run_cli(cpp_build, "-m", graph, tmp_path / "junk.png", "-o", tmp_path / "y.png")
    assert bad.returncode == 1 and bad.stderr.startswith(f"trtmatte-cpp: error: cannot read image {tmp_path / 'junk.png'}: ")
    assert len(bad.stderr.splitlines()) == 1 and not (tmp_path / "y.png").exists()
    big = run_cli(cpp_build, "-m", graph, crop, "--max-pixels", "1000", "-o", tmp_path / "z.png")
    assert big.returncode == 1 and "is 96x64 = 0 megapixels, over the limit" in big.stderr
    nomodel = run_cli(cpp_build, "-m", tmp_path / "none.onnx", crop, "-o", tmp_path / "z.png")
    assert nomodel.returncode == 1 and nomodel.stderr.startswith("trtmatte-cpp: error: model ") and "not found" in nomodel.stderr


def test_exif_orientation_as_python_reads_it(cpp_build, graph, photos, tmp_path):
    """A phone's sideways JPEG with its rotate tag: the alpha matches the upright picture."""
    from trtmatte.media.image import read_rgb
    from trtmatte.runtime.ort_session import OrtSession

    stored = Image.fromarray(photos["chelsea"][1][::3, ::3])  # 100x151 as stored; shown 151x100
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    stored.save(tmp_path / "phone.jpg", quality=95, exif=exif)
    r = run_cli(cpp_build, "-m", graph, tmp_path / "phone.jpg", "-o", tmp_path / "phone_alpha.png")
    assert r.returncode == 0, r.stderr
    got = read_png(tmp_path / "phone_alpha.png")
    upright = read_rgb(tmp_path / "phone.jpg")
    assert got.shape == upright.shape[:2] == (151, 100)
    want = OrtSession(graph).run(upright[None])[0]
    # stb's and libjpeg's JPEG decoders differ by a level here and there: compare on average
    assert np.abs(got / 255.0 - want).mean() < 0.01


def test_trtmatte_cpp_trimap_files_and_folders(cpp_build, ada_graph, ada_inputs, ada_python_alpha, diff_255, tmp_path):
    (astro, _, astro_trimap, _), (chelsea, _, _, _) = ada_inputs["astronaut"], ada_inputs["chelsea"]
    r = run_cli(cpp_build, "-m", ada_graph, astro, "--trimap", astro_trimap, "-o", tmp_path / "one.png")
    assert r.returncode == 0, r.stderr
    assert "takes a trimap" in r.stdout
    assert diff_255(read_png(tmp_path / "one.png"), ada_python_alpha["astronaut"]) <= 1.0
    # a folder of trimaps named like the images (any image suffix)
    trimaps = tmp_path / "trimaps"
    trimaps.mkdir()
    for name, (_, _, _, trimap) in ada_inputs.items():
        Image.fromarray(trimap).save(trimaps / f"{name}.bmp")
    r = run_cli(cpp_build, "-m", ada_graph, astro, chelsea, "--trimap", trimaps, "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    for name in ada_inputs:
        assert diff_255(read_png(tmp_path / "out" / f"{name}.png"), ada_python_alpha[name]) <= 1.0, name


def test_trtmatte_cpp_trimap_errors_are_one_line(cpp_build, ada_graph, graph, ada_inputs, tmp_path):
    (astro, _, astro_trimap, _), (chelsea, _, chelsea_trimap, _) = ada_inputs["astronaut"], ada_inputs["chelsea"]

    def one_line(r, code, *parts):
        assert r.returncode == code and len(r.stderr.splitlines()) == 1, r.stderr
        assert all(p in r.stderr for p in parts), r.stderr

    one_line(run_cli(cpp_build, "-m", ada_graph, astro, "-o", tmp_path / "a.png"), 1,
             "trtmatte-cpp: error: adamatting_lite needs a trimap: give --trimap PATH")
    one_line(run_cli(cpp_build, "-m", graph, astro, "--trimap", astro_trimap, "-o", tmp_path / "b.png"), 1,
             "is trimap-free: drop --trimap")
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "b.png").exists()
    one_line(run_cli(cpp_build, "-m", ada_graph, astro, "--trimap", chelsea_trimap, "-o", tmp_path / "c.png"), 1,
             f"the trimap {chelsea_trimap} is 151x100 but the image is 96x80: give the trimap made for this image")
    # several images: a folder is needed, and an image without its trimap fails alone
    usage = run_cli(cpp_build, "-m", ada_graph, astro, chelsea, "--trimap", astro_trimap, "-o", tmp_path / "d")
    assert usage.returncode == 2 and usage.stderr.splitlines()[-1] == (
        "trtmatte-cpp: error: one --trimap file for 2 images: give a directory of trimaps named like the images")
    partial = tmp_path / "partial"
    partial.mkdir()
    Image.open(astro_trimap).save(partial / "astronaut.png")
    r = run_cli(cpp_build, "-m", ada_graph, astro, chelsea, "--trimap", partial, "-o", tmp_path / "e")
    one_line(r, 1, f"no trimap for {chelsea} in {partial}")
    assert (tmp_path / "e" / "astronaut.png").exists() and not (tmp_path / "e" / "chelsea.png").exists()


# ---- trtmatte-httpd ----

class Server:
    def __init__(self, cpp_build, graph, *args):
        self.proc = subprocess.Popen([str(cpp_build.bin("trtmatte-httpd")), "--model", str(graph), "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()
        try:
            first = lines.get(timeout=120)
        except queue.Empty:
            self.proc.kill()
            pytest.fail("trtmatte-httpd did not start within 120 s")
        assert first.startswith("trtmatte-httpd: listening on http://127.0.0.1:"), first + self.proc.stderr.read()
        self.port = int(first.split("127.0.0.1:")[1].split(" ")[0])

    def request(self, method, path, body=None, timeout=120, content_type="application/octet-stream"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": content_type} if body else {})
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type"), response.read()
        finally:
            conn.close()

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail("trtmatte-httpd did not stop within 60 s of SIGTERM")
        return self.proc.returncode, out


@pytest.fixture
def server(cpp_build, graph):
    # --queue-timeout: requests queue for the 2 slots as long as a loaded machine needs (this is not a timing test)
    srv = Server(cpp_build, graph, "--workers", "16", "--max-inflight", "2", "--max-pixels", "5000",
                 "--queue-timeout", "3600")
    yield srv
    if srv.proc.poll() is None:
        srv.proc.kill()
        srv.proc.wait()


def png_bytes(rgb) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()


def test_httpd_under_concurrent_load(server, graph, photos, diff_255):
    from trtmatte.runtime.ort_session import OrtSession

    session = OrtSession(graph)
    images = [photos["astronaut"][1][100:164, 200:264], photos["chelsea"][1][50:98, 150:230],
              photos["coffee"][1][:72, :64], photos["astronaut"][1][300:340, 100:200]]
    bodies = [png_bytes(np.ascontiguousarray(im)) for im in images]
    expected = [session.run(np.ascontiguousarray(im)[None])[0] for im in images]

    status, ctype, body = server.request("GET", "/health")
    health = json.loads(body)
    assert status == 200 and ctype == "application/json" and health["status"] == "ok" and health["max_inflight"] == 2

    def one(i):
        return i % len(images), server.request("POST", "/matte", bodies[i % len(images)])

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(64)))
    assert len(results) == 64
    for k, (status, ctype, body) in results:
        assert status == 200 and ctype == "image/png", body[:200]
        assert diff_255(read_png(body), expected[k]) <= 1.0
    assert json.loads(server.request("GET", "/health")[2])["served"] == 64
    code, out = server.stop()
    assert code == 0 and out.strip().endswith("stopped after 64 mattes")


def test_httpd_bad_requests_get_clear_4xx(server, photos):
    for body, status, part in ((b"definitely not an image", 400, "cannot read image in the request body"),
                               (b"", 400, "it is empty"),
                               (png_bytes(photos["astronaut"][1][:100, :100]), 413, "over the limit")):
        got, ctype, payload = server.request("POST", "/matte", body)
        assert got == status and ctype == "application/json" and part in json.loads(payload)["error"], payload
    got, ctype, payload = server.request("GET", "/nope")
    assert got == 404 and "no such endpoint: GET /nope" in json.loads(payload)["error"]
    for method, path, allow in (("GET", "/matte", "POST"), ("PUT", "/matte", "POST"), ("POST", "/health", "GET")):
        got, _, payload = server.request(method, path)
        assert got == 405 and f"use {allow} {path}" in json.loads(payload)["error"], (method, path, payload)
    assert server.stop()[0] == 0


def png_header_claiming(width: int, height: int) -> bytes:
    """The first bytes of a PNG whose IHDR declares width x height (RGB, 8-bit) and nothing more."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\0" * 64


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def test_httpd_refuses_huge_images_from_their_header(server):
    """A header declaring 60000x60000 (which stb will not even read) is a 413, not a 400; nothing is decoded."""
    got, ctype, payload = server.request("POST", "/matte", png_header_claiming(60000, 60000))
    assert got == 413 and "60000x60000 = 3600 megapixels, over the limit" in json.loads(payload)["error"], payload
    assert server.stop()[0] == 0


def test_httpd_chunked_body_over_max_bytes_is_refused_unbuffered(cpp_build, graph):
    """A chunked body is bounded like a sized one: 413 once it passes --max-bytes, the rest never read."""
    import socket

    srv = Server(cpp_build, graph, "--max-bytes", "1000000")
    try:
        before = rss_mb(srv.proc.pid)
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
        sock.sendall(b"POST /matte HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % 65536 + b"\xab" * 65536 + b"\r\n"
        sent = 0
        try:
            for _ in range(1600):  # 100 MB offered
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server answered and closed: the rest was never read
            pass
        reply = b""
        try:
            while b"\r\n\r\n" not in reply:
                data = sock.recv(65536)
                if not data:
                    break
                reply += data
        except OSError:
            pass
        sock.close()
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert sent < 100 * 1024 * 1024  # refused while the client was still sending
        assert rss_mb(srv.proc.pid) - before < 50
        assert srv.request("GET", "/health")[0] == 200
        assert srv.stop()[0] == 0
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


def test_httpd_body_slower_than_the_request_timeout_gets_408(cpp_build, graph):
    """A body that trickles in holds its matting slot only until --request-timeout, then 408."""
    import socket
    import time

    srv = Server(cpp_build, graph, "--request-timeout", "1")
    try:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
        sock.sendall(b"POST /matte HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        sock.setblocking(False)
        reply = b""
        for _ in range(600):  # a byte every 0.1 s until the server answers (it must within ~1 s)
            try:
                reply += sock.recv(4096)
            except BlockingIOError:
                pass
            if b"\r\n\r\n" in reply:
                break
            try:
                sock.send(b"x")
            except OSError:
                pass
            time.sleep(0.1)
        sock.close()
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert json.loads(srv.request("GET", "/health")[2])["inflight"] == 0  # the slot came back
        assert srv.stop()[0] == 0
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


def test_httpd_slow_clients_do_not_block_health(cpp_build, graph):
    """16 connections trickling their headers (the old default worker count) leave /health answering."""
    import socket

    srv = Server(cpp_build, graph)
    slow = []
    try:
        for _ in range(16):
            sock = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
            sock.sendall(b"GET /health HTTP/1.1\r\nX-Slow: ")
            slow.append(sock)
        status, _, body = srv.request("GET", "/health", timeout=30)
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert srv.stop()[0] == 0
    finally:
        for sock in slow:
            sock.close()
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


def multipart(**parts: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with one file part per keyword, and its Content-Type."""
    boundary = "trtmatte-test-boundary"
    body = b""
    for name, data in parts.items():
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.png\"\r\n"
                 "Content-Type: image/png\r\n\r\n").encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_httpd_trimap_model_takes_a_form_with_the_trimap(cpp_build, ada_graph, ada_inputs, ada_python_alpha, diff_255):
    srv = Server(cpp_build, ada_graph, "--workers", "4")
    try:
        health = json.loads(srv.request("GET", "/health")[2])
        assert health["needs_trimap"] is True and "takes a trimap" in health["model"]
        for name, (image_path, rgb, trimap_path, trimap) in ada_inputs.items():
            body, ctype = multipart(image=image_path.read_bytes(), trimap=trimap_path.read_bytes())
            status, got_type, payload = srv.request("POST", "/matte", body, content_type=ctype)
            assert status == 200 and got_type == "image/png", payload[:200]
            assert diff_255(read_png(payload), ada_python_alpha[name]) <= 1.0, name
        astro, chelsea = ada_inputs["astronaut"], ada_inputs["chelsea"]
        for body, ctype, part in (
                (astro[0].read_bytes(), "application/octet-stream",
                 "adamatting_lite needs a trimap: send multipart/form-data with parts 'image' and 'trimap'"),
                (*multipart(image=astro[0].read_bytes()), "needs a trimap"),
                (*multipart(trimap=astro[2].read_bytes()), "the form has no part named 'image'"),
                (*multipart(image=astro[0].read_bytes(), trimap=chelsea[2].read_bytes()),
                 "the trimap in the 'trimap' part is 151x100 but the image is 96x80"),
                (*multipart(image=astro[0].read_bytes(), trimap=b"junk"), "cannot read trimap in the 'trimap' part")):
            status, got_type, payload = srv.request("POST", "/matte", body, content_type=ctype)
            assert status == 400 and got_type == "application/json", payload[:200]
            assert part in json.loads(payload)["error"], payload
        assert srv.stop()[0] == 0
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


def test_httpd_trimap_free_model_refuses_a_trimap(server, photos, ada_inputs):
    image = png_bytes(np.ascontiguousarray(photos["coffee"][1][:40, :50]))
    assert json.loads(server.request("GET", "/health")[2])["needs_trimap"] is False
    body, ctype = multipart(image=image)  # a form with the image alone works too
    status, got_type, payload = server.request("POST", "/matte", body, content_type=ctype)
    assert status == 200 and got_type == "image/png" and read_png(payload).shape == (40, 50)
    body, ctype = multipart(image=image, trimap=ada_inputs["astronaut"][2].read_bytes())
    status, _, payload = server.request("POST", "/matte", body, content_type=ctype)
    assert status == 400 and "is trimap-free: drop the 'trimap' part" in json.loads(payload)["error"]
    assert server.stop()[0] == 0
