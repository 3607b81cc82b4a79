"""``trtmatte serve``: one Triton node serving a trtmatte model, set up from the ``matte`` flags.

A workspace folder (removed on exit) holds a Python-backend model repository whose config names
the model files where they are, the backend folder with this Python's stub, and the server log.
The model's instances report the backend their Matter chose (or the one-line error that stopped
it) through a status file, which the startup banner and errors read.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TrtmatteError
from .repository import ModelSource, RepoOptions, config_for_python, write_repository
from .service import DEFAULT_MAX_PIXELS
from .tritonserver import Ports, TritonServer, find_tritonserver

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
    tritonserver: str | None = None
    startup_timeout: float = 180.0
    log_file: str | None = None
    verbose: bool = False


class ServingNode:
    def __init__(self, options: ServeOptions):
        self.options = options
        self.workspace: Path | None = None
        self.server: TritonServer | None = None
        self.status: dict = {}

    def start(self) -> "ServingNode":
        o = self.options
        if o.max_pixels < 1:
            raise TrtmatteError(f"--max-pixels must be positive, got {o.max_pixels}")
        dist = find_tritonserver(o.tritonserver)
        # The log lives outside the workspace: a failed start keeps it for the error to point at.
        self.log_path = Path(o.log_file) if o.log_file else Path(tempfile.gettempdir()) / f"trtmatte-serve-{os.getpid()}.log"
        self.workspace = Path(tempfile.mkdtemp(prefix="trtmatte-serve-"))
        try:
            status_file = self.workspace / "status.json"
            repo = RepoOptions(**{**o.repo.__dict__, "parameters": {**o.matter, "max_pixels": str(o.max_pixels),
                                                                    "status_file": str(status_file)}})
            config, files = config_for_python(o.source, repo, copy_model=False)
            self.config = config
            write_repository(self.workspace / "repository", config, files)
            self.server = TritonServer(dist, self.workspace / "repository", self.workspace, o.ports,
                                       log_path=self.log_path, verbose=o.verbose)
            self.server.start()
            self.server.wait_ready(o.startup_timeout, failure=lambda log: self._read_status().get("error"))
            self.status = self._read_status()
        except BaseException:
            self.stop(keep_log=True)
            raise
        return self

    def _read_status(self) -> dict:
        try:
            return json.loads((self.workspace / "status.json").read_text())
        except (OSError, ValueError):
            return {}

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
                 f"{o.max_pixels / 1e6:.1f} MP per image",
                 "query it:",
                 f"  curl -s http://{host}:{p.http}/v2/models/{name}/infer -d '{body}'",
                 *("  " + line for line in client_example(name, f"{host}:{p.http}").splitlines()),
                 "Ctrl-C (or SIGTERM) stops the server."]
        return "\n".join(lines)

    def wait(self) -> None:
        """Serve until SIGINT/SIGTERM (a clean stop) or until tritonserver dies (an error)."""
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not stop.is_set():
                if self.server.process.poll() is not None:
                    from .tritonserver import last_error

                    raise TrtmatteError(f"tritonserver exited ({self.server.process.returncode}): "
                                        f"{last_error(self.server.log_text())}")
                stop.wait(0.5)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self, keep_log: bool = False) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
            if not keep_log and not self.options.log_file:
                self.log_path.unlink(missing_ok=True)
        if self.workspace is not None:
            shutil.rmtree(self.workspace, ignore_errors=True)
            self.workspace = None

    def __enter__(self) -> "ServingNode":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
