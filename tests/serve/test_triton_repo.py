"""`trtmatte triton-repo`: every config.pbtxt parses with Triton's own schema (tritonclient's
model_config_pb2) and says what the model is; the Python-backend repository is really loaded and
served by the tritonserver bundled in nvidia-pytriton (the TensorRT and ONNX Runtime backends are
not in that bundle: their repositories are checked against the schema only)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from trtmatte.cli.main import main

from helpers.triton import ServeProcess, free_ports, require_triton


def parse_config(path):
    pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] (pip install -e '.[test]') has Triton's schema")
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def tensors(entries):
    from tritonclient.grpc import model_config_pb2

    return {t.name: (model_config_pb2.DataType.Name(t.data_type), list(t.dims), getattr(t, "optional", False)) for t in entries}


def fake_standard_plan(tmp_path, flavour="tensorrt", plugin=True):
    """A plan file and sidecar as standard TensorRT writes them (the bytes are not a real engine:
    the repository is built from the sidecar and copies the plan as it is)."""
    from trtmatte.engine.sidecar import EngineMeta, write_sidecar

    plan = tmp_path / "late_fusion.plan"
    plan.write_bytes(b"not a real engine")
    plugins = []
    if plugin:
        library = tmp_path / "libtrtmatte_plugins.so"
        library.write_bytes(b"\x7fELF")
        plugins = [{"name": "FusedBlend", "version": "1", "namespace": "trtmatte", "library": str(library)}]
    profile = {"image": {"min": [1, 64, 64, 3], "opt": [2, 800, 800, 3], "max": [4, 1024, 1024, 3]}}
    write_sidecar(plan, EngineMeta(flavour, "10.3.0", "fp16", profile, "0" * 64, "late_fusion.onnx", plugins=plugins,
                                   onnx_metadata={"trtmatte.inputs": "image", "trtmatte.alpha_dtype": "uint8"}))
    return plan


def test_tensorrt_plan_repository(tmp_path, capsys):
    plan = fake_standard_plan(tmp_path)
    out = tmp_path / "models"
    assert main(["triton-repo", str(out), "--engine", str(plan)]) == 0
    config = parse_config(out / "trtmatte" / "config.pbtxt")
    assert config.platform == "tensorrt_plan" and config.name == "trtmatte"
    assert config.max_batch_size == 4  # the profile's max batch
    assert list(config.dynamic_batching.preferred_batch_size) == [2, 4]  # its opt and max
    assert config.instance_group[0].kind == config.instance_group[0].KIND_GPU
    assert tensors(config.input) == {"image": ("TYPE_UINT8", [-1, -1, 3], False)}
    assert tensors(config.output) == {"alpha": ("TYPE_UINT8", [-1, -1], False)}
    version = out / "trtmatte" / "1"
    assert (version / "model.plan").read_bytes() == plan.read_bytes()
    assert (version / "libtrtmatte_plugins.so").is_file() and (version / "model.plan.json").is_file()
    readme = (out / "README.md").read_text()
    assert "--backend-config=tensorrt,plugins=$PWD/trtmatte/1/libtrtmatte_plugins.so" in readme


def test_onnxruntime_repository_for_cpu_nodes(tmp_path, tiny_onnx):
    out = tmp_path / "models"
    assert main(["triton-repo", str(out), "--onnx", str(tiny_onnx), "--name", "matting", "--max-batch", "4",
                 "--instances", "2", "--max-queue-delay-us", "500"]) == 0
    config = parse_config(out / "matting" / "config.pbtxt")
    assert config.platform == "onnxruntime_onnx" and config.backend == "onnxruntime"
    assert config.max_batch_size == 4 and list(config.dynamic_batching.preferred_batch_size) == [2, 4]
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    assert config.instance_group[0].kind == config.instance_group[0].KIND_CPU and config.instance_group[0].count == 2
    assert tensors(config.output)["alpha"][0] == "TYPE_UINT8"
    assert (out / "matting" / "1" / "model.onnx").read_bytes() == tiny_onnx.read_bytes()
    assert "intra_op_thread_count" not in config.parameters  # onnxruntime's default unless --threads
    assert main(["triton-repo", str(tmp_path / "threads"), "--onnx", str(tiny_onnx), "--instances", "2",
                 "--threads", "3"]) == 0
    config = parse_config(tmp_path / "threads" / "trtmatte" / "config.pbtxt")
    assert config.parameters["intra_op_thread_count"].string_value == "3"


def test_python_repository_batches_ragged_warms_up_bounds_its_queue_and_takes_gpus(tmp_path, tiny_onnx):
    """Ragged inputs (the model regroups by size: Triton's batcher must not compare shapes), a zero
    image run at load, a bounded queue answered UNAVAILABLE, and one instance per listed GPU."""
    out = tmp_path / "models"
    assert main(["triton-repo", str(out), "--onnx", str(tiny_onnx), "--python", "--max-queue-size", "32",
                 "--queue-timeout-ms", "2500", "--gpus", "0", "2"]) == 0
    config = parse_config(out / "trtmatte" / "config.pbtxt")
    assert all(t.allow_ragged_batch for t in config.input) and [t.name for t in config.input] == ["image", "trimap"]
    policy = config.dynamic_batching.default_queue_policy
    assert policy.max_queue_size == 32 and policy.default_timeout_microseconds == 2_500_000
    assert policy.timeout_action == policy.REJECT
    group, = config.instance_group
    assert group.kind == group.KIND_GPU and list(group.gpus) == [0, 2] and group.count == 1
    warmup, = config.model_warmup
    assert list(warmup.inputs) == ["image"] and list(warmup.inputs["image"].dims) == [64, 64, 3]
    assert warmup.inputs["image"].zero_data
    plain = parse_config(tmp_path / "plain" / "trtmatte" / "config.pbtxt") if main(
        ["triton-repo", str(tmp_path / "plain"), "--onnx", str(tiny_onnx)]) == 0 else None
    assert not any(t.allow_ragged_batch for t in plain.input)  # onnxruntime would get one flattened tensor
    assert plain.instance_group[0].kind == plain.instance_group[0].KIND_CPU and plain.model_warmup


def test_float16_body_int8_graph_is_not_given_to_tritons_onnxruntime(tmp_path, tiny_onnx, capsys):
    """Triton's onnxruntime backend would truncate its float16 QuantizeLinear
    (trtmatte/contract/ort_rounding.py); the Python backend, running trtmatte's OrtSession, rounds."""
    onnx = pytest.importorskip("onnx", reason="stamping a graph's metadata needs the onnx package")
    from trtmatte.contract import read_metadata, stamp_metadata
    from trtmatte.contract.names import INT8_BODY, PRECISION

    model = onnx.load(str(tiny_onnx))
    stamp_metadata(model, {**read_metadata(model), PRECISION: "int8", INT8_BODY: "fp16"})
    graph = tmp_path / "int8.onnx"
    onnx.save(model, graph)
    assert main(["triton-repo", str(tmp_path / "out"), "--onnx", str(graph)]) == 1
    err = capsys.readouterr().err
    assert "float16 body" in err and "serve it with --python" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()
    assert main(["triton-repo", str(tmp_path / "out"), "--python", "--onnx", str(graph)]) == 0


def test_plans_of_tensorrt_rtx_and_bad_options_are_refused_in_one_line_leaving_nothing(tmp_path, capsys):
    rtx = fake_standard_plan(tmp_path, flavour="tensorrt_rtx", plugin=False)
    cases = [(["--engine", str(rtx)], "tensorrt_plan backend runs standard TensorRT plans"),
             ([], "give the model: --engine PLAN"),
             (["--engine", str(rtx), "--onnx", "x.onnx"], "give one model file"),
             (["--onnx", str(tmp_path / "missing.onnx")], "no such file"),
             (["--python", "--onnx", str(rtx), "--max-batch", "0"], "--max-batch must be at least 1"),
             (["--python", "--onnx", str(rtx), "--name", "a/b"], "choose another --name"),
             (["--python", "--onnx", str(rtx), "--name", ".."], "choose another --name"),
             (["--python", "--onnx", str(rtx), "--threads", "0"], "--threads must be at least 1")]
    for args, message in cases:
        assert main(["triton-repo", str(tmp_path / "out"), *args]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    assert main(["triton-repo", str(tmp_path / "taken"), "--python", "--onnx", str(rtx)]) == 1
    assert "already exists and is not an empty folder" in capsys.readouterr().err


@pytest.fixture()
def triton_server(tmp_path):
    """Serve a repository with the bundled tritonserver on loopback ports: yields a starter."""
    require_triton()
    from trtmatte.serve.tritonserver import Ports, TritonServer, find_tritonserver

    servers = []

    def start(repository):
        http, grpc, metrics = free_ports()
        workspace = tmp_path / f"ws{len(servers)}"
        workspace.mkdir()
        server = TritonServer(find_tritonserver(), repository, workspace, Ports(http, grpc, metrics, "127.0.0.1"))
        servers.append(server)
        server.start()
        server.wait_ready(180)
        return f"127.0.0.1:{http}"

    yield start
    for server in servers:
        server.stop()


def infer(url, inputs: dict[str, np.ndarray]) -> np.ndarray:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url)
    requests = []
    for name, array in inputs.items():
        request = httpclient.InferInput(name, list(array.shape), "UINT8")
        request.set_data_from_numpy(array)
        requests.append(request)
    try:
        return client.infer("trtmatte", requests).as_numpy("alpha")
    finally:
        client.close()


def test_python_backend_repository_is_served_by_its_readmes_command(tmp_path, tiny_onnx):
    from trtmatte.runtime.ort_session import OrtSession

    out = tmp_path / "models"
    assert main(["triton-repo", str(out), "--onnx", str(tiny_onnx), "--python", "--backend", "onnxruntime"]) == 0
    config = parse_config(out / "trtmatte" / "config.pbtxt")
    assert config.backend == "python"
    assert {p: v.string_value for p, v in config.parameters.items()} == {"backend": "onnxruntime", "onnx": "model.onnx"}
    assert tensors(config.input)["trimap"] == ("TYPE_UINT8", [-1, -1], True)
    assert (out / "trtmatte" / "1" / "model.py").is_file()
    # the README's command, run as written from the repository's folder (plus loopback ports)
    readme = (out / "README.md").read_text()
    commands = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    assert commands == ["tritonserver --model-repository=$PWD", "trtmatte serve --repository $PWD"]
    image = np.random.default_rng(0).integers(0, 256, (2, 48, 40, 3), dtype=np.uint8)
    with OrtSession(tiny_onnx) as session:
        want = np.rint(session.run(image) * 255).astype(np.uint8)
    with ServeProcess(command=["bash", "-c", commands[1] + ' "$@"', "bash"], cwd=out) as server:
        assert "model     trtmatte:" in "\n".join(server.banner)
        got = infer(server.url, {"image": image})
        code, _, err = server.stop()
    assert got.shape == (2, 48, 40) and np.abs(got.astype(int) - want.astype(int)).max() <= 1
    assert code == 0, err


def test_a_trimap_model_is_served_with_its_second_input(tmp_path, adamatting_export, triton_server):
    from trtmatte import Matter
    from trtmatte.compose import to_uint8
    from trtmatte.data.photos import sample_photos

    onnx_path = adamatting_export[0]
    out = tmp_path / "models"
    assert main(["triton-repo", str(out), "--onnx", str(onnx_path), "--python"]) == 0
    url = triton_server(out)
    image = np.ascontiguousarray(sample_photos(max_side=160)[0])
    trimap = np.full(image.shape[:2], 128, np.uint8)
    trimap[:20], trimap[-20:] = 0, 255
    with Matter(backend="onnxruntime", onnx=onnx_path) as matter:
        want = to_uint8(matter.matte(image, trimap))
    got = infer(url, {"image": image[None], "trimap": trimap[None]})[0]
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    assert (got[-20:] == 255).all() and (got[:20] == 0).all()  # the known regions, enforced in the graph
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    with pytest.raises(InferenceServerException, match="needs a trimap: send the input 'trimap'"):
        infer(url, {"image": image[None]})


def test_serve_reports_a_model_that_cannot_open_in_one_line(tmp_path, capsys):
    require_triton()
    http, grpc, metrics = free_ports()
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a graph")
    code = main(["serve", "--onnx", str(bad), "--address", "127.0.0.1", "--http-port", str(http),
                 "--grpc-port", str(grpc), "--metrics-port", str(metrics)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("trtmatte: error:") and "broken.onnx" in err, err
    assert len(err.strip().splitlines()) == 1


def test_serve_without_a_tritonserver_says_how_to_get_one(tmp_path, capsys):
    assert main(["serve", "--tritonserver", str(tmp_path / "nowhere" / "bin" / "tritonserver")]) == 1
    err = capsys.readouterr().err
    assert "is not an executable tritonserver" in err and "pip install --no-deps nvidia-pytriton" in err


def test_serve_refuses_a_port_in_use(capsys):
    require_triton()
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--address", "127.0.0.1", "--http-port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_server_environment_puts_libpython_and_this_interpreter_first():
    import sys
    import sysconfig

    from trtmatte.serve.tritonserver import TritonDistribution, server_environment

    from pathlib import Path

    env = server_environment(TritonDistribution(Path("/x/bin/tritonserver"), Path("/x/backends"), (Path("/x/libs"),)))
    assert env["LD_LIBRARY_PATH"].split(":")[:2] == ["/x/libs", sysconfig.get_config_var("LIBDIR")]
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert json.dumps(env)  # all strings


def test_serve_refuses_one_port_for_two_services_and_a_bad_repository_in_one_line(tmp_path, capsys):
    cases = [(["--http-port", "9000", "--grpc-port", "9000"], "--http-port and --grpc-port are both 9000"),
             (["--repository", str(tmp_path)], "expected one model folder with a config.pbtxt"),
             (["--name", ".."], "choose another --name")]
    for args, message in cases:
        assert main(["serve", *args]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
