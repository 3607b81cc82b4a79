"""``trtmatte serve``: one Triton node serving a trtmatte model, set up from the ``matte`` flags.

A workspace folder (removed on exit) holds a Python-backend model repository whose version folder
links the model files where they are, and the backend folder with this Python's stub. The model's
instances report the backend their Matter chose (or the one-line error that stopped it) through a
status file, which the startup banner and errors read.

Health: Triton keeps answering ready when a model's stub process has died (every request then
fails: "Stub process is not healthy"). A watchdog checks each second that tritonserver and one stub
per instance are alive; when one is not, ``serve`` stops the server (readiness fails at once) and
exits non-zero with a one-line error, for a supervisor (systemd, Kubernetes) to start it afresh.
Restarting the model inside the same server was the alternative; a fresh process is the one
recovery that also returns whatever memory or state killed the stub.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TrtmatteError
from .model_config import ModelConfig
from .repository import ModelSource, RepoOptions, config_for_python, write_repository
from .python_backend import STATUS_ENV
from .service import DEFAULT_MAX_BATCH_PIXELS, DEFAULT_MAX_PIXELS
from .tritonserver import Ports, TritonServer, find_tritonserver, last_error

WATCH_INTERVAL_S = 1.0

# The banner's curl example: a 2x2 picture (red, green / blue, white) as JSON, α back as JSON.
CURL_BODY = {"inputs": [{"name": "image", "shape": [1, 2, 2, 3], "datatype": "UINT8",
                         "data": [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]}],
             "outputs": [{"name": "alpha"}]}


@dataclass
class ServeOptions:
    source: ModelSource = field(default_factory=ModelSource)
    matter: dict[str, str] = field(default_factory=dict)  # backend, variant, device, precision, trimap, ...
    repo: RepoOptions = field(default_factory=RepoOptions)
    ports: Ports = field(default_factory=Ports)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_batch_pixels: int = DEFAULT_MAX_BATCH_PIXELS
    tritonserver: str | None = None
    startup_timeout: float = 180.0
    log_file: str | None = None
    verbose: bool = False
    repository: str | None = None  # serve this Python-backend repository (`triton-repo --python`) as it is


def read_repository_config(repository: Path) -> ModelConfig:
    """The settings of the one Python-backend model in ``repository`` that the banner names."""
    configs = sorted(repository.glob("*/config.pbtxt")) if repository.is_dir() else []
    if len(configs) != 1:
        raise TrtmatteError(f"--repository {repository}: expected one model folder with a config.pbtxt, found "
                            f"{len(configs)}: give a folder written by `trtmatte triton-repo --python`")
    text = configs[0].read_text()
    if 'backend: "python"' not in text:
        raise TrtmatteError(f"--repository {repository}: {configs[0].parent.name} is not a Python-backend model; "
                            "trtmatte serve runs those (serve a tensorrt_plan or onnxruntime_onnx one with tritonserver)")

    def number(key: str, default: int) -> int:
        found = re.search(rf"\b{key}: (\d+)", text)
        return int(found.group(1)) if found else default

    params = dict(re.findall(r'parameters \{ key: "(\w+)" value: \{ string_value: "([^"]*)" \} \}', text))
    return ModelConfig(configs[0].parent.name, "python", number("max_batch_size", 0),
                       max_queue_delay_us=number("max_queue_delay_microseconds", 0), instances=number("count", 1),
                       parameters=params)


class ServingNode:
    def __init__(self, options: ServeOptions):
        self.options = options
        self.workspace: Path | None = None
        self.server: TritonServer | None = None
        self.status: dict = {}
        self.failed = False

    def start(self) -> "ServingNode":
        o = self.options
        if o.max_pixels < 1:
            raise TrtmatteError(f"--max-pixels must be positive, got {o.max_pixels}")
        if o.max_batch_pixels < 1:
            raise TrtmatteError(f"--max-batch-pixels must be positive, got {o.max_batch_pixels}")
        o.ports.check()
        dist = find_tritonserver(o.tritonserver)
        # The log lives outside the workspace: a failed start keeps it for the error to point at.
        self.log_path = Path(o.log_file) if o.log_file else Path(tempfile.gettempdir()) / f"trtmatte-serve-{os.getpid()}.log"
        self.workspace = Path(tempfile.mkdtemp(prefix="trtmatte-serve-"))
        try:
            if o.repository:
                repository = Path(o.repository).resolve()
                self.config = read_repository_config(repository)
            else:
                repo = RepoOptions(**{**o.repo.__dict__, "parameters": {**o.matter, "max_pixels": str(o.max_pixels),
                                                                        "max_batch_pixels": str(o.max_batch_pixels)}})
                self.config, files = config_for_python(o.source, repo)
                repository = self.workspace / "repository"
                write_repository(repository, self.config, files, link=True)
            self.server = TritonServer(dist, repository, self.workspace, o.ports,
                                       log_path=self.log_path, verbose=o.verbose,
                                       env={STATUS_ENV: str(self.workspace / "status.json")})
            self.server.start()
            self.server.wait_ready(o.startup_timeout, failure=lambda log: self._read_status().get("error"))
            self.status = self._read_status()
        except BaseException:
            self.stop(keep_log=True, check=False)
            raise
        return self

    def _read_status(self) -> dict:
        try:
            return json.loads((self.workspace / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def _param(self, key: str, flag_value: int) -> int:
        """A limit as the served config sets it (a given --repository: its parameter or the default)."""
        if not self.options.repository:
            return flag_value
        default = DEFAULT_MAX_PIXELS if key == "max_pixels" else DEFAULT_MAX_BATCH_PIXELS
        return int(self.config.parameters.get(key) or default)

    def banner(self) -> str:
        p, o, s = self.options.ports, self.options, self.status
        host, name = p.client_host, self.config.name
        model = s.get("label", "?")
        body = json.dumps(CURL_BODY, separators=(",", ":"))
        from .repository import client_example

        lines = [f"trtmatte serve: Triton Inference Server ready ({self.server.dist.origin})",
                 f"  model     {name}: {s.get('variant', '?')} ({model}){', needs a trimap' if s.get('needs_trimap') else ''}",
                 f"  backend   {s.get('reason', '?')}",
                 f"  HTTP      http://{host}:{p.http}/v2/models/{name}/infer  (KServe v2 REST)",
                 f"  gRPC      {host}:{p.grpc}",
                 f"  metrics   http://{host}:{p.metrics}/metrics  (Prometheus)",
                 f"  batching  dynamic, up to {self.config.max_batch} images of one size, queue delay "
                 f"{self.config.max_queue_delay_us} us, {self.config.instances} instance(s), at most "
                 f"{self._param('max_pixels', o.max_pixels) / 1e6:.1f} MP per image, "
                 f"{self._param('max_batch_pixels', o.max_batch_pixels) / 1e6:.2f} MP per run",
                 "query it:",
                 f"  curl -s http://{host}:{p.http}/v2/models/{name}/infer -d '{body}'",
                 *("  " + line for line in client_example(name, f"{host}:{p.http}").splitlines()),
                 "Ctrl-C (or SIGTERM) stops the server."]
        return "\n".join(lines)

    def wait(self) -> None:
        """Serve until SIGINT/SIGTERM (a clean stop), or until tritonserver or a model stub dies
        (an error: the server is stopped first, so readiness fails while the caller exits)."""
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        expected = len(self.server.stub_pids())  # one per instance, all up once the server is ready
        try:
            while not stop.is_set():
                problem = self.health(expected)
                if problem:
                    print(f"trtmatte serve: {problem}: stopping", flush=True)
                    self.failed = True  # keep the log the error points at
                    # nothing left to drain on a dead stub: a short wait, then the process group
                    self.server.stop(timeout=5.0)
                    raise TrtmatteError(f"{problem}: the server stopped; start it again (a supervisor restarts "
                                        f"it on this non-zero exit); its log: {self.log_path}")
                stop.wait(WATCH_INTERVAL_S)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def health(self, stubs: int) -> str | None:
        """None while tritonserver and ``stubs`` model stubs run, else what is wrong, in words."""
        if self.server.process.poll() is not None:
            return f"tritonserver exited ({self.server.process.returncode}): {last_error(self.server.log_text())}"
        alive = len(self.server.stub_pids())
        if alive < stubs:
            return (f"{stubs - alive} of the model's {stubs} stub process(es) died (killed, or out of memory: see "
                    "--max-batch-pixels), so every request would fail")
        return None

    def stop(self, keep_log: bool = False, check: bool = True) -> None:
        """Stop the server; ``check``: a TrtmatteError (non-zero exit) if it had to be killed."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()
            keep_log = keep_log or server.forced or self.failed
            if not keep_log and not self.options.log_file:
                self.log_path.unlink(missing_ok=True)
        if self.workspace is not None:
            shutil.rmtree(self.workspace, ignore_errors=True)
            self.workspace = None
        if server is not None and server.forced and check:
            raise TrtmatteError(f"tritonserver did not stop within 30 s of SIGTERM and was killed (requests in "
                                f"flight were lost): see its log {self.log_path}")

    def __enter__(self) -> "ServingNode":
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        try:
            self.stop()
        except TrtmatteError:
            if exc_type is None:  # an error already on its way says more
                raise
