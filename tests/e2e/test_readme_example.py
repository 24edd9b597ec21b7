"""The README's C example, as written: extracted from README.md, compiled
warning-free against the library of this build, and run against the
virtual card behind pcscd on "Virtual PCD 00 00", the reader it names."""
import os
import pathlib
import re
import subprocess

import pcsc_env
from pcsc_env import pcscd  # noqa: F401  (the shared fixture)

README = pcsc_env.SOURCE_DIR / "README.md"
BUILD = pcsc_env.BUILD_DIR


def c_example():
    text = README.read_text()
    part = text.split("## The C library", 1)[1]
    m = re.search(r"```c\n(.*?)```", part, re.S)
    assert m, "README has no C example under 'The C library'"
    return m.group(1)


def test_readme_c_example_builds_and_reads(pcscd, tmp_path):
    src = tmp_path / "example.c"
    src.write_text(c_example())
    exe = tmp_path / "example"
    lib = BUILD / "core" / "libscboot.so"
    cc = subprocess.run(["cc", "-std=c11", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-Werror",
                         "-I", str(pcsc_env.SOURCE_DIR / "core" / "include"), "-o", str(exe),
                         str(src), str(lib), *os.environ.get("SCB_EXAMPLE_LDFLAGS", "").split()],
                        capture_output=True, text=True, timeout=60)
    assert cc.returncode == 0, cc.stderr
    with pcsc_env.CardProcess([BUILD / "core" / "cli" / "scboot", "sim", "--vpcd",
                               "127.0.0.1:35963"], "Virtual PCD 00 00"):
        run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, LD_LIBRARY_PATH=str(lib.parent)))
    assert run.returncode == 0, run.stderr
    assert run.stdout == "lifetime 86400 s, binding U\n", run.stdout
