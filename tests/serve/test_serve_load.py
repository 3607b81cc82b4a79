"""`trtmatte serve` with the bundled model under load, through Triton's own client.

One server for the module (started by the real CLI in a subprocess, on loopback ports): 200
concurrent requests of mixed sizes each equal the local session's α, none lost (Triton's own
Prometheus counter agrees); resident memory after 1,000 requests stays within a stated bound of
that after the first 100; bad requests get an error naming the problem and the server goes on;
SIGINT stops it with exit 0 and removes its workspace.
"""
from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request

import numpy as np
import pytest

from helpers.triton import ServeProcess, require_triton, tree_rss_mib

pytestmark = pytest.mark.slow

# Resident memory may grow this much from request 100 to request 1,000 (allocator and arena
# settling); a leak of one 64x64 RGBA output per request would add 14 MiB, of one float α
# 14 MiB, of the 1,000 inputs 11 MiB.
RSS_BOUND_MIB = 8.0


@pytest.fixture(scope="module")
def served():
    require_triton()
    with ServeProcess("--max-pixels", str(1000 * 1000)) as server:
        yield server


@pytest.fixture(scope="module")
def mixed_photos():
    """Eight crops of real photos, eight sizes, strips 384-400 px long (kept small: 200 requests on two
    CPU cores). The bundled graph brings a longer side under 384 up to 384 (its min_side), so a strip
    whose longer side is already 384 costs its own pixels only, as a 128-256 px square did before."""
    from trtmatte.data.photos import sample_photos

    sizes = [(24, 384), (40, 392), (56, 400), (384, 72), (88, 384), (104, 392), (392, 120), (64, 400)]
    photos = sample_photos()
    return [np.ascontiguousarray(photos[i % len(photos)][:h, :w]) for i, (h, w) in enumerate(sizes)]


def test_banner_names_urls_model_backend_and_how_to_query(served):
    text = "\n".join(served.banner)
    assert f"http://127.0.0.1:{served.http}/v2/models/trtmatte/infer" in text
    assert f"127.0.0.1:{served.grpc}" in text and f"http://127.0.0.1:{served.metrics}/metrics" in text
    assert "late_fusion_lite" in text and "backend   onnxruntime on cpu" in text
    assert "curl -s" in text and "tritonclient.http" in text


def test_the_banners_curl_request_works(served):
    body = re.search(r"-d '(\{.*\})'", "\n".join(served.banner)).group(1)
    request = urllib.request.Request(f"http://{served.url}/v2/models/trtmatte/infer", data=body.encode())
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
    alpha = answer["outputs"][0]
    assert alpha["name"] == "alpha" and alpha["shape"] == [1, 2, 2] and len(alpha["data"]) == 4


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def server_pids(served) -> tuple[int, int]:
    from trtmatte.serve.tritonserver import descendants, process_name

    tritonserver = next(p for p in descendants(served.process.pid) if process_name(p) == "tritonserver")
    return tritonserver, next(p for p in descendants(tritonserver) if process_name(p).startswith("triton_python_b"))


def test_200_concurrent_mixed_size_requests_equal_the_local_session(served, mixed_photos):
    """... and the dynamic batcher does not spin on the mixed sizes (ragged inputs): tritonserver's
    own CPU time stays a small part of the model's (it matched the model's before, docs/serving.md)."""
    from trtmatte import Matter
    from trtmatte.compose import to_uint8
    from trtmatte.serve.loadgen import run_load

    with Matter(backend="onnxruntime") as matter:
        expected = [to_uint8(matter.matte(image)) for image in mixed_photos]
    tritonserver, stub = server_pids(served)
    cpu_before = cpu_seconds(tritonserver), cpu_seconds(stub)
    result = run_load(served.url, mixed_photos, concurrency=200, requests=200, keep_outputs=True)
    server_cpu, model_cpu = (cpu_seconds(p) - before for p, before in zip((tritonserver, stub), cpu_before))
    print(f"CPU: tritonserver {server_cpu:.2f} s, model stub {model_cpu:.2f} s")
    assert server_cpu < 0.1 * model_cpu, f"tritonserver used {server_cpu:.1f} s CPU for the model's {model_cpu:.1f} s"
    assert not result.errors, list(result.errors.values())[:3]
    assert sorted(result.alphas) == list(range(200)), "responses lost"
    for i, alpha in result.alphas.items():
        want = expected[i % len(mixed_photos)]
        assert alpha.shape == want.shape and alpha.dtype == np.uint8
        assert np.abs(alpha.astype(int) - want.astype(int)).max() <= 1, f"request {i}: differs from the local session"
    with urllib.request.urlopen(f"http://127.0.0.1:{served.metrics}/metrics", timeout=30) as response:
        metrics = response.read().decode()
    success = re.search(r'^nv_inference_request_success\{model="trtmatte",version="1"\} (\d+)', metrics, re.M)
    assert success and int(success.group(1)) >= 200  # Triton's own count: nothing dropped on its side


def post(served, body: dict) -> tuple[int, str]:
    request = urllib.request.Request(f"http://{served.url}/v2/models/trtmatte/infer", data=json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_bad_requests_are_400_with_one_line_and_no_server_paths(served):
    """Over HTTP, with the status code: what trtmatte answers and what Triton answers before it."""
    cases = {"the request has no input 'image'": [{"name": "trimap", "shape": [1, 2, 2], "datatype": "UINT8",
                                                    "data": [0, 0, 0, 0]}],
             "unexpected shape for input 'image'": [{"name": "image", "shape": [2, 2, 3], "datatype": "UINT8",
                                                     "data": [0] * 12}],  # no batch dimension
             "batch-size must be <= 8": [{"name": "image", "shape": [9, 2, 3], "datatype": "UINT8", "data": [0] * 54}],
             "expects 'UINT8'": [{"name": "image", "shape": [1, 2, 2, 3], "datatype": "FP32", "data": [0.0] * 12}]}
    for expected, inputs in cases.items():
        code, text = post(served, {"inputs": inputs})
        message = json.loads(text)["error"]
        assert code == 400 and expected in message, (code, text)
        assert "\n" not in message and "Traceback" not in message and ".py" not in message and "/tmp" not in message


def test_grpc_bad_requests_are_invalid_argument(served):
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(f"127.0.0.1:{served.grpc}")
    trimap = grpcclient.InferInput("trimap", [1, 4, 4], "UINT8")
    trimap.set_data_from_numpy(np.zeros((1, 4, 4), np.uint8))
    image = grpcclient.InferInput("image", [1, 4, 4, 3], "FP32")
    image.set_data_from_numpy(np.zeros((1, 4, 4, 3), np.float32))
    for inputs, expected in (([trimap], "the request has no input 'image'"), ([image], "expects 'UINT8'")):
        with pytest.raises(InferenceServerException) as raised:
            client.infer("trtmatte", inputs)
        assert raised.value.status() == "StatusCode.INVALID_ARGUMENT" and expected in raised.value.message()
    client.close()


def test_the_model_config_shows_no_path_of_the_server(served):
    with urllib.request.urlopen(f"http://{served.url}/v2/models/trtmatte/config", timeout=30) as response:
        config = json.load(response)
    text = json.dumps(config)
    assert "trtmatte-serve-" not in text and "/" not in json.dumps(config["parameters"]), config["parameters"]
    assert config["parameters"]["max_batch_pixels"]["string_value"]
    assert all(tensor["allow_ragged_batch"] for tensor in config["input"])


def test_bad_requests_get_an_error_naming_the_problem_and_the_server_goes_on(served, mixed_photos):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(served.url)

    def infer(array, dtype="UINT8", extra=()):
        request = httpclient.InferInput("image", list(array.shape), dtype)
        request.set_data_from_numpy(array)
        return client.infer("trtmatte", [request, *extra])

    cases = {"expects 'UINT8'": np.zeros((1, 8, 8, 3), np.float32),  # wrong dtype
             "unexpected shape": np.zeros((1, 8, 8), np.uint8),  # wrong rank
             "image is empty": np.zeros((1, 0, 8, 3), np.uint8),  # zero-sized
             "over this server's limit": np.zeros((1, 1001, 1000, 3), np.uint8)}  # > --max-pixels
    for expected, array in cases.items():
        with pytest.raises(InferenceServerException, match=re.escape(expected)):
            infer(array, "FP32" if array.dtype == np.float32 else "UINT8")
    trimap = httpclient.InferInput("trimap", [1, 8, 8], "UINT8")
    trimap.set_data_from_numpy(np.full((1, 8, 8), 128, np.uint8))
    with pytest.raises(InferenceServerException, match="trimap-free: drop the input 'trimap'"):
        infer(np.zeros((1, 8, 8, 3), np.uint8), extra=(trimap,))
    alpha = infer(mixed_photos[0][None]).as_numpy("alpha")  # still serving
    assert alpha.shape == (1, *mixed_photos[0].shape[:2])
    client.close()


@pytest.fixture(scope="module")
def served_tiny(tiny_onnx):
    """The same server on the tiny graph (tests/helpers/tiny_model.py): 1,000 requests go through the
    very code the bundled model's do (decode, batching, replies) in milliseconds each."""
    require_triton()
    with ServeProcess("--onnx", str(tiny_onnx), "--max-pixels", str(1000 * 1000)) as server:
        yield server


def test_resident_memory_after_1000_requests_stays_near_that_after_100(served_tiny):
    from trtmatte.serve.loadgen import run_load

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((48, 64), (64, 48), (56, 56), (64, 64))]
    first = run_load(served_tiny.url, images, concurrency=4, requests=100)
    after_100 = tree_rss_mib(served_tiny.process.pid, include_root=False)
    rest = run_load(served_tiny.url, images, concurrency=4, requests=900)
    after_1000 = tree_rss_mib(served_tiny.process.pid, include_root=False)
    print(f"server RSS after 100 requests {after_100:.1f} MiB, after 1000 {after_1000:.1f} MiB")
    assert not first.errors and not rest.errors and first.images + rest.images == 1000
    assert after_1000 - after_100 <= RSS_BOUND_MIB, f"server RSS {after_100:.0f} -> {after_1000:.0f} MiB"


def test_sigint_stops_the_server_cleanly_and_removes_its_workspace(served):
    from pathlib import Path

    from helpers.triton import children

    commands = []
    for pid in children(served.process.pid):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            commands.append(f.read().decode().split("\0"))
    repository = next(arg.split("=", 1)[1] for cmd in commands for arg in cmd if arg.startswith("--model-repository="))
    workspace = Path(repository).parent
    assert workspace.is_dir()
    code, out, err = served.stop()
    assert code == 0, err[-2000:]
    assert "trtmatte serve: stopped" in out
    assert not workspace.exists(), "the workspace was left behind"
