"""Build the scboot extension for pip (offline, Debian's setuptools).

Why compile the C sources here instead of linking a CMake build: pip runs
this in a clean clone with nothing built, and setuptools cannot drive
CMake without extra packages (scikit-build is not in Debian 12's base).
The core is plain C11 with three system libraries (libcrypto, pcsc-lite,
json-c, found with pkg-config), so compiling the same source files that
CMake compiles into one self-contained extension is simple and gives the
same code. SWIG runs into the build directory (never the source tree); its
proxy module lands next to the extension.
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SWIG_INTERFACE = "bindings/python/scboot_python.i"


def rel(pattern):
    return sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, pattern)))


def pkg_config(args, packages):
    try:
        out = subprocess.run(["pkg-config", *args, *packages], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"pkg-config {' '.join(packages)} failed ({e}): install "
                         "libssl-dev libpcsclite-dev libjson-c-dev pkg-config") from e
    return out.split()


# The library parts the binding needs: the core, the JSON glue and the
# virtual card (each directory holds only library sources).
C_SOURCES = (rel("core/src/*.c") + rel("core/json/*.c") + rel("core/sim/*.c")
             + rel("bindings/scb_bind*.c") + ["bindings/python/scb_py.c"])
INCLUDES = ["core/include", "core/src", "core/json", "core/sim", "bindings", "bindings/python"]
PACKAGES = ["libcrypto", "libpcsclite", "json-c"]
# SCB_WITH_PCSC=OFF in the environment: as CMake's option, no pcsc-lite.
if os.environ.get("SCB_WITH_PCSC", "ON").upper() in ("OFF", "0", "NO", "FALSE"):
    C_SOURCES = [s for s in C_SOURCES if s != os.path.join("core", "src", "pcsc.c")]
    C_SOURCES.append(os.path.join("core", "src", "nopcsc", "pcsc_none.c"))
    PACKAGES.remove("libpcsclite")


class BuildExt(build_ext):
    """Generate the SWIG wrapper before compiling."""

    def build_extension(self, ext):
        swig = shutil.which("swig4.0") or shutil.which("swig")
        if swig is None:
            raise SystemExit("swig not found: apt-get install swig")
        os.makedirs(self.build_temp, exist_ok=True)
        wrap = os.path.join(self.build_temp, "scboot_python_wrap.c")
        outdir = os.path.dirname(self.get_ext_fullpath(ext.name))
        os.makedirs(outdir, exist_ok=True)
        cmd = [swig, "-python", "-threads", "-module", "_core", "-interface", "_scboot"]
        cmd += [f"-I{os.path.join(HERE, d)}" for d in INCLUDES]
        cmd += ["-o", wrap, "-outdir", outdir, os.path.join(HERE, SWIG_INTERFACE)]
        subprocess.run(cmd, check=True)
        ext.sources = [s for s in ext.sources if not s.endswith("_wrap.c")] + [wrap]
        super().build_extension(ext)


extension = Extension(
    "scboot._scboot",
    sources=C_SOURCES,
    include_dirs=INCLUDES,
    define_macros=[("_POSIX_C_SOURCE", "200809L")],
    extra_compile_args=["-std=c11", "-fvisibility=hidden"]
    + pkg_config(["--cflags"], PACKAGES),
    extra_link_args=pkg_config(["--libs"], PACKAGES),
    depends=rel("core/include/*.h") + rel("core/src/*.h") + rel("bindings/*.[hi]")
    + rel("bindings/python/*.[hi]"),
)

# Debian's own site directory: python3-wheel and the other python3-* packages.
SYSTEM_SITE = os.path.join(sys.base_prefix, "lib", "python3", "dist-packages")
NO_WHEEL = ("scboot: building needs the 'wheel' package (setuptools' bdist_wheel), which "
            "neither this Python nor Debian's has: apt-get install python3-wheel (then any venv "
            "of /usr/bin/python3 works), or pip install wheel")


def bdist_wheel_command(system_site=SYSTEM_SITE):
    """The bdist_wheel command pip needs (even to read the metadata).

    Setuptools before 70.1 (Debian 12 has 66) has none of its own: it is
    the wheel package's, which a plain venv of Debian's python3 lacks (its
    ensurepip installs pip and setuptools only: "invalid command
    'bdist_wheel'"). Then Debian's python3-wheel is taken from the system's
    site directory, for this build only: it is pure Python on the
    standard library and setuptools, so the venv's setuptools serves it.
    Without either, one line says what to install."""
    try:
        from wheel.bdist_wheel import bdist_wheel
        return bdist_wheel
    except ImportError:
        pass
    if not os.path.isfile(os.path.join(system_site, "wheel", "bdist_wheel.py")):
        raise SystemExit(NO_WHEEL)
    sys.path.append(system_site)   # last: the venv's own packages still come first
    try:
        from wheel.bdist_wheel import bdist_wheel
    except ImportError:
        raise SystemExit(NO_WHEEL) from None
    finally:
        sys.path.remove(system_site)
    return bdist_wheel


# setuptools' scratch space goes under build/ next to CMake's trees (never
# into the package sources). setuptools runs this file as __main__; a test
# imports it under another name for bdist_wheel_command.
if __name__ == "__main__":
    setup(
        package_dir={"": "python"},
        packages=["scboot", "scboot.conformance"],
        package_data={"scboot": ["py.typed", "*.pyi"]},
        ext_modules=[extension],
        cmdclass={"build_ext": BuildExt, "bdist_wheel": bdist_wheel_command()},
        options={"build": {"build_base": os.path.join("build", "setuptools")}},
    )
