"""trtmatte-httpd under the hostile traffic of issue 28's "Done when", measured and recorded:

1. three concurrent PNGs of ~300 KB that decode to 100 megapixels: every answer (413 or 200), the
   server's peak RSS while they run and its RSS 10 s later;
2. a 200 MB chunked body: refused (413), and how much the server's RSS grew;
3. 16 connections trickling one header byte every 2 s for 40 s: the slowest /health answer meanwhile;
4. afterwards a normal photo: its alpha against Python's onnxruntime (trtmatte.runtime.OrtSession).

    python benchmarks/cpp_httpd_hostile.py --httpd build/bin/trtmatte-httpd
writes benchmarks/results/cpu2core_cpp_httpd_hostile.json (device: this 2-core x86-64 CPU; backend
onnxruntime, fp32, the bundled graph; the server runs with its default options)."""
from __future__ import annotations

import argparse
import http.client
import io
import json
import socket
import struct
import subprocess
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GRAPH = REPO / "trtmatte" / "weights" / "late_fusion_lite_demo.onnx"


def big_png(side: int = 10000) -> bytes:
    """A side x side RGB PNG of one grey, built row by row (a few hundred KB for 100 MP)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compress = zlib.compressobj(9)
    row = b"\0" + b"\x80" * (side * 3)
    idat = b"".join(compress.compress(row) for _ in range(side)) + compress.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def status_mb(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1024


class Httpd:
    def __init__(self, binary: str):
        self.proc = subprocess.Popen([binary, "--model", str(GRAPH), "--port", "0"], stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        self.port = int(first.split("127.0.0.1:")[1].split(" ")[0])

    def request(self, method: str, path: str, body: bytes | None = None, timeout: float = 600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def reset_peak(self) -> None:
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")


def huge_pngs(server: Httpd) -> dict:
    png = big_png()
    server.reset_peak()
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: server.request("POST", "/matte", png)[0], range(3)))
    peak = status_mb(server.proc.pid, "VmHWM")
    time.sleep(10)
    return {"png_bytes": len(png), "decoded_megapixels": 100, "statuses": answers, "peak_rss_mb": round(peak, 1),
            "rss_10s_later_mb": round(status_mb(server.proc.pid, "VmRSS"), 1)}


def chunked_body(server: Httpd, total: int = 200 * 1024 * 1024) -> dict:
    before = status_mb(server.proc.pid, "VmRSS")
    server.reset_peak()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    sock.sendall(b"POST /matte HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"%x\r\n" % (1 << 20) + b"\xab" * (1 << 20) + b"\r\n"
    sent = 0
    try:
        while sent < total:
            sock.sendall(piece)
            sent += 1 << 20
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    reply = b""
    try:
        while b"\r\n" not in reply:
            data = sock.recv(4096)
            if not data:
                break
            reply += data
    except OSError:
        pass
    sock.close()
    return {"offered_mb": total >> 20, "sent_before_refusal_mb": round(sent / (1 << 20), 1),
            "status_line": reply.split(b"\r\n")[0].decode(errors="replace"),
            "rss_growth_mb": round(status_mb(server.proc.pid, "VmHWM") - before, 1)}


def slow_clients(server: Httpd, clients: int = 16, seconds: float = 40, interval: float = 2) -> dict:
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(clients)]
    header = b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 1000
    stop = threading.Event()

    def trickle():
        for i in range(len(header)):
            for sock in socks:
                try:
                    sock.send(header[i:i + 1])
                except OSError:
                    pass
            if stop.wait(interval):
                return

    thread = threading.Thread(target=trickle)
    thread.start()
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.monotonic()
        status, _ = server.request("GET", "/health", timeout=30)
        latencies.append((status, time.monotonic() - start))
        time.sleep(1)
    stop.set()
    thread.join()
    for sock in socks:
        sock.close()
    return {"clients": clients, "seconds": seconds, "byte_every_s": interval,
            "health_answers": len(latencies), "health_all_200": all(s == 200 for s, _ in latencies),
            "slowest_health_s": round(max(t for _, t in latencies), 3)}


def normal_photo(server: Httpd) -> dict:
    from PIL import Image
    from skimage import data

    from trtmatte.runtime.ort_session import OrtSession

    rgb = np.ascontiguousarray(data.astronaut()[100:356, 100:356])
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    status, body = server.request("POST", "/matte", out.getvalue())
    got = np.array(Image.open(io.BytesIO(body)))
    want = OrtSession(GRAPH).run(rgb[None])[0]
    return {"status": status, "max_abs_diff_255": float(np.abs(got.astype(float) - want.astype(float) * 255).max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--httpd", default=str(REPO / "build" / "bin" / "trtmatte-httpd"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "cpu2core_cpp_httpd_hostile.json"))
    args = parser.parse_args()
    server = Httpd(args.httpd)
    try:
        result = {"device": "2-core x86-64 CPU", "backend": "onnxruntime (trtmatte-httpd, default options)",
                  "precision": "fp32", "model": GRAPH.name,
                  "rss_after_start_mb": round(status_mb(server.proc.pid, "VmRSS"), 1)}
        for name, step in (("huge_pngs", huge_pngs), ("chunked_200mb", chunked_body), ("slow_clients", slow_clients),
                           ("normal_photo_afterwards", normal_photo)):
            result[name] = step(server)
            print(name, result[name], flush=True)
    finally:
        server.proc.terminate()
        server.proc.wait(60)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
