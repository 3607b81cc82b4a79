"""Finding and running Triton Inference Server's ``tritonserver`` binary.

Where the binary comes from, first match wins:

1. ``--tritonserver PATH`` (or ``$TRTMATTE_TRITONSERVER``): any Triton install, e.g.
   ``/opt/tritonserver/bin/tritonserver`` in NVIDIA's Triton container; its ``backends/`` is used
   as it is.
2. The ``nvidia-pytriton`` wheel, which bundles a real tritonserver (2.51) with its Python backend
   and one Python-backend stub per CPython version. trtmatte uses only these binaries, never
   PyTriton's Python API, so PyTriton's own ``numpy<2`` requirement does not apply
   (``pip install --no-deps nvidia-pytriton``).
3. ``tritonserver`` on PATH.

Two things the Python backend needs that a bare ``tritonserver`` launch gets wrong, done here:

* the stub matching *this* interpreter's version, in a backend folder of its own (a copy of the
  bundled backend with that stub), so the models run in this Python with this venv's packages;
* the loader path: the stub links ``libpython3.X.so``, which pyenv and venv Pythons keep outside
  the system library path, so ``LD_LIBRARY_PATH`` gets ``sysconfig``'s LIBDIR (without it, model
  loading fails with "libpython3.X.so.1.0: cannot open shared object file"); and PATH starts with
  this interpreter's folder, where the embedded interpreter looks for its ``pyvenv.cfg``.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import TrtmatteError
from .process_tree import descendants, die_with_parent, kill_group, process_name

ENV_VAR = "TRTMATTE_TRITONSERVER"
INSTALL_HINT = ("pip install --no-deps nvidia-pytriton (it bundles tritonserver 2.51; trtmatte uses only the binary), "
                "or pass --tritonserver PATH (e.g. /opt/tritonserver/bin/tritonserver in NVIDIA's Triton container)")


@dataclass(frozen=True)
class TritonDistribution:
    server: Path  # the tritonserver binary
    backends: Path  # its backends folder
    libraries: tuple[Path, ...] = ()  # folders the binary's libraries are in (LD_LIBRARY_PATH)
    stub: Path | None = None  # the Python-backend stub for this Python, when the install has one per version
    origin: str = ""  # where it was found, in words

    def check(self) -> None:
        if not self.server.is_file() or not os.access(self.server, os.X_OK):
            raise TrtmatteError(f"{self.server} is not an executable tritonserver: {INSTALL_HINT}")
        if not (self.backends / "python").is_dir():
            raise TrtmatteError(f"{self.backends} has no Python backend (backends/python), which trtmatte serve runs: "
                                "use a Triton build with it (NVIDIA's containers and nvidia-pytriton have it)")


def from_install(server: str | os.PathLike, origin: str) -> TritonDistribution:
    """A Triton install laid out as bin/tritonserver, lib/, backends/."""
    server = Path(server).expanduser()
    root = server.resolve().parent.parent
    return TritonDistribution(server, root / "backends", (root / "lib",), None, origin)


def from_pytriton() -> TritonDistribution | None:
    # find_spec locates the package without importing it: PyTriton's Python API (and its numpy<2
    # pin) is never loaded.
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    root = package / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = root / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        have = sorted(p.name for p in (root / "python_backend_stubs").iterdir()) if (root / "python_backend_stubs").is_dir() else []
        raise TrtmatteError(f"the tritonserver bundled in nvidia-pytriton has Python-backend stubs for Python "
                            f"{', '.join(have) or 'none'}, not {version}: run trtmatte serve with one of those, "
                            "or pass --tritonserver PATH")
    libraries = tuple(p for p in (package.parent / "nvidia_pytriton.libs", root / "external_libs") if p.is_dir())
    return TritonDistribution(root / "bin" / "tritonserver", root / "backends", libraries, stub,
                              f"nvidia-pytriton ({package})")


def find_tritonserver(explicit: str | os.PathLike | None = None) -> TritonDistribution:
    if explicit:
        dist = from_install(explicit, "--tritonserver")
    elif os.environ.get(ENV_VAR):
        dist = from_install(os.environ[ENV_VAR], f"${ENV_VAR}")
    else:
        dist = from_pytriton()
        if dist is None:
            import shutil

            found = shutil.which("tritonserver")
            if not found:
                raise TrtmatteError(f"no Triton Inference Server found: {INSTALL_HINT}")
            dist = from_install(found, "PATH")
    dist.check()
    return dist


def backend_folder(dist: TritonDistribution, workspace: Path) -> Path:
    """The backends folder to pass to tritonserver: the install's own, or (one stub per Python
    version) a copy of it whose Python backend has the stub of this interpreter."""
    if dist.stub is None:
        return dist.backends
    folder = workspace / "backends"
    for entry in dist.backends.iterdir():
        if entry.name != "python":
            (folder / entry.name).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(entry, folder / entry.name)
    python = folder / "python"
    python.mkdir(parents=True)
    for entry in (dist.backends / "python").iterdir():
        if entry.name != "triton_python_backend_stub" and entry.name != "__pycache__":
            os.symlink(entry, python / entry.name)
    # A copy, not a link: the backend runs the stub by its path and checks it is a regular file.
    target = python / "triton_python_backend_stub"
    target.write_bytes(dist.stub.read_bytes())
    target.chmod(0o755)
    return folder


def server_environment(dist: TritonDistribution) -> dict[str, str]:
    env = dict(os.environ)
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    library_path = [str(p) for p in dist.libraries] + ([libdir] if libdir else [])
    if env.get("LD_LIBRARY_PATH"):
        library_path.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(library_path)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # trtmatte itself importable in the stub even when it runs from a source tree (PYTHONPATH=...)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([package_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def check_port_free(address: str, port: int, flag: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as the server binds: a port whose last connections linger in TIME_WAIT (a restart) is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address if address != "0.0.0.0" else "", port))
        except OSError as exc:
            raise TrtmatteError(f"cannot listen on {address}:{port} ({exc.strerror}): pick another {flag}") from None


@dataclass
class Ports:
    http: int = 8000
    grpc: int = 8001
    metrics: int = 8002
    address: str = "127.0.0.1"  # this machine only; containers pass --address 0.0.0.0

    def check(self) -> None:
        named = {"--http-port": self.http, "--grpc-port": self.grpc, "--metrics-port": self.metrics}
        for flag, port in named.items():
            if not 0 < port < 65536:
                raise TrtmatteError(f"{flag} {port} is not a port number (1-65535)")
        flags = list(named)
        for i, a in enumerate(flags):
            for b in flags[i + 1:]:
                if named[a] == named[b]:
                    raise TrtmatteError(f"{a} and {b} are both {named[a]}: give each its own port")

    @property
    def client_host(self) -> str:
        return "localhost" if self.address in ("0.0.0.0", "::") else self.address


class TritonServer:
    """A tritonserver process serving ``repository``; ``workspace`` holds its backend folder and
    log. Use as a context manager: the process is stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, dist: TritonDistribution, repository: Path, workspace: Path, ports: Ports,
                 log_path: Path | None = None, extra_args: tuple[str, ...] = (), verbose: bool = False,
                 env: dict[str, str] | None = None):
        self.dist, self.repository, self.workspace, self.ports = dist, Path(repository), Path(workspace), ports
        self.log_path = Path(log_path) if log_path else self.workspace / "tritonserver.log"
        self.extra_args, self.verbose, self.env = extra_args, verbose, env or {}
        self.process: subprocess.Popen | None = None
        self.forced = False  # stop() had to kill it

    @property
    def shm_prefix(self) -> str:
        return f"trtmatte{os.getpid()}_{self.ports.http}_"

    def command(self, backends: Path) -> list[str]:
        p = self.ports
        return [str(self.dist.server), f"--model-repository={self.repository}", f"--backend-directory={backends}",
                f"--http-address={p.address}", f"--http-port={p.http}", f"--grpc-address={p.address}",
                f"--grpc-port={p.grpc}", f"--metrics-address={p.address}", f"--metrics-port={p.metrics}",
                # no second stub launch just to auto-complete a config trtmatte wrote in full
                "--disable-auto-complete-config", "--exit-on-error=true", "--strict-readiness=true",
                # the Python backend's shared-memory regions: unique per server (several may run), and
                # 16 MiB to start, enough for a 2K image without regrowing
                f"--backend-config=python,shm-region-prefix-name={self.shm_prefix}",
                "--backend-config=python,shm-default-byte-size=16777216",
                "--backend-config=python,shm-growth-byte-size=16777216",
                f"--log-verbose={1 if self.verbose else 0}", *self.extra_args]

    def start(self) -> None:
        self.ports.check()
        for port, flag in ((self.ports.http, "--http-port"), (self.ports.grpc, "--grpc-port"),
                           (self.ports.metrics, "--metrics-port")):
            check_port_free(self.ports.address, port, flag)
        backends = backend_folder(self.dist, self.workspace)
        self._log = open(self.log_path, "ab")
        parent = os.getpid()
        self.process = subprocess.Popen(self.command(backends), stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**server_environment(self.dist), **self.env}, start_new_session=True,
                                        preexec_fn=lambda: die_with_parent(parent))

    def stub_pids(self) -> list[int]:
        """The Python-backend stub processes (one per model instance) now running under the server."""
        return [pid for pid in descendants(self.process.pid) if process_name(pid).startswith("triton_python_b")]

    def ready(self) -> bool:
        url = f"http://{self.ports.client_host}:{self.ports.http}/v2/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float, failure=lambda log: None) -> None:
        """Until the model is ready; a TrtmatteError if the server exits or ``timeout`` passes.
        ``failure(log_text)`` may return the one-line reason to report (serve: the model's own)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_text()
                raise TrtmatteError(failure(log) or f"tritonserver exited ({self.process.returncode}): "
                                    f"{last_error(log)} (its log: {self.log_path})")
            if self.ready():
                return
            time.sleep(0.2)
        raise TrtmatteError(f"tritonserver was not ready after {timeout:.0f} s: see {self.log_path}, or raise "
                            "--startup-timeout")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (in-flight requests finish, models unload), SIGKILL to the whole process group
        (server and stubs) after ``timeout``; ``forced`` says whether it came to that. Shared-memory
        regions a killed server leaves behind are removed."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.forced = True
                kill_group(self.process.pid)
                self.process.wait()
        kill_group(self.process.pid)  # stubs still alive after their server (killed, or a crash)
        self._log.close()
        for region in Path("/dev/shm").glob(f"{self.shm_prefix}*"):
            region.unlink(missing_ok=True)
        return self.process.returncode

    def __enter__(self) -> "TritonServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def last_error(log: str) -> str:
    """The most telling line of a tritonserver log: the first model-load error, else the last error."""
    errors = [line for line in log.splitlines() if line.startswith("E") or "error" in line.lower()]
    for line in errors:
        if "failed to load" in line:
            return line.split("] ", 1)[-1].strip()
    return errors[-1].split("] ", 1)[-1].strip() if errors else "no error in its log"
