"""The CMake package: `cmake --install` of the build, then a consumer project that only does
find_package(trtmatte) and target_link_libraries(... trtmatte::trtmatte), in C++ and in C; the
installed examples find libtrtmatte through their relative rpath after the prefix moves."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(cmd, **kwargs):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kwargs)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def test_install_and_find_package(cpp_build, graph, tmp_path):
    prefix = tmp_path / "prefix"
    run(["cmake", "--install", cpp_build.dir, "--prefix", prefix])
    for rel in ("include/trtmatte/matter.hpp", "include/trtmatte/trtmatte_c.h", "include/trtmatte/error.hpp",
                "include/trtmatte/export.h", "lib/cmake/trtmatte/trtmatteConfig.cmake",
                "lib/cmake/trtmatte/trtmatteConfigVersion.cmake", "bin/trtmatte-cpp", "bin/trtmatte-httpd"):
        assert (prefix / rel).is_file(), rel
    assert list(prefix.glob("lib/libtrtmatte.so*"))

    consumer = tmp_path / "consumer"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    run(["cmake", "-S", REPO / "cpp/tests/consumer", "-B", consumer, *generator, f"-DCMAKE_PREFIX_PATH={prefix}"])
    run(["cmake", "--build", consumer])
    out = run([consumer / "consumer", graph]).stdout
    assert "caught: model /no/such/model.onnx not found" in out and "onnxruntime" in out and "alpha[0] = " in out
    assert "not found" in run([consumer / "consumer_c"]).stdout

    moved = tmp_path / "moved"
    prefix.rename(moved)
    help_text = run([moved / "bin" / "trtmatte-cpp", "--help"]).stdout
    assert help_text.startswith("usage: trtmatte-cpp")
