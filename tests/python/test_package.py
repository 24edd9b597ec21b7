"""The package as a user meets it: help(), docstrings, type hints, version,
and the offline pip install from a clean tree."""
import inspect
import os
import pathlib
import pydoc
import shutil
import subprocess
import sys

import pytest

import scboot
from conftest import SOURCE_DIR

PUBLIC_CLASSES = [scboot.Card, scboot.Keys, scboot.Bootstrap]


def test_version_matches_the_library_and_the_project():
    assert scboot.__version__ == scboot._scboot.scb_version()
    pyproject = (SOURCE_DIR / "pyproject.toml").read_text()
    assert f'version = "{scboot.__version__}"' in pyproject


def test_help_is_useful():
    text = pydoc.render_doc(scboot, renderer=pydoc.plaintext)
    for needle in ("Card.open", "read_bootstrap", "Keys", "from_transmit", "Error",
                   "scboot.conformance"):
        assert needle in text


def test_every_public_name_is_documented():
    for name in scboot.__all__:
        obj = getattr(scboot, name)
        assert inspect.getdoc(obj), name


@pytest.mark.parametrize("cls", PUBLIC_CLASSES, ids=lambda c: c.__name__)
def test_public_methods_have_docstrings_and_hints(cls):
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if isinstance(func, property):
            func = func.fget
        if not callable(func):
            continue
        assert inspect.getdoc(func), f"{cls.__name__}.{name} has no docstring"
        assert "return" in func.__annotations__, f"{cls.__name__}.{name} has no return hint"


def test_package_is_marked_typed():
    assert (pathlib.Path(scboot.__file__).parent / "py.typed").exists()


def copy_clean_tree(dest):
    """The files a clean clone has: tracked and untracked-but-not-ignored."""
    try:
        listed = subprocess.run(["git", "-C", str(SOURCE_DIR), "ls-files", "-z", "--cached",
                                 "--others", "--exclude-standard"], check=True,
                                capture_output=True).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.fail("git is needed to list the files of a clean tree")
    for raw in filter(None, listed):
        rel = raw.decode()
        src = SOURCE_DIR / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


@pytest.mark.pip
def test_offline_pip_install_from_a_clean_tree(tmp_path):
    src = tmp_path / "src"
    target = tmp_path / "site"
    copy_clean_tree(src)
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                          "--no-deps", "--no-index", "--target", str(target), str(src)],
                         capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # Importable from elsewhere, with the plugin found through its entry point.
    env["PYTHONPATH"] = str(target)
    check = ("import scboot, scboot.sim, scboot.pkcs15, scboot.pytest_plugin, "
             "scboot.conformance; print(scboot.__version__, scboot.__file__)")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert str(target) in out.stdout
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--help"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert "--scboot-reader" in out.stdout


def plain_venv(path):
    """A venv of Debian's python3 as `python3 -m venv` makes it: pip and
    setuptools, no wheel, none of the system's packages."""
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(path)], check=True, timeout=300)
    python = path / "bin" / "python"
    out = subprocess.run([str(python), "-c", "import wheel"], capture_output=True, text=True)
    assert out.returncode != 0, "the venv has wheel: not the plain venv this test is about"
    return python


@pytest.mark.pip
def test_offline_pip_install_into_a_plain_venv(tmp_path):
    """`pip install --no-build-isolation .` in a plain venv (setuptools 66
    has no bdist_wheel; the venv no wheel): the build takes Debian's
    python3-wheel, and the installed package works from the venv."""
    src = tmp_path / "src"
    copy_clean_tree(src)
    python = plain_venv(tmp_path / "venv")
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    out = subprocess.run([str(python), "-m", "pip", "install", "--no-build-isolation",
                          "--no-index", str(src)], capture_output=True, text=True, env=env,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "invalid command 'bdist_wheel'" not in out.stdout + out.stderr
    check = ("import scboot; K = '404142434445464748494A4B4C4D4E4F'\n"
             "with scboot.Card.sim() as card, scboot.Keys(K, K, K, kvn=0x30) as keys:\n"
             "    print(card.read_bootstrap(keys).servers[0]['lifetime'], scboot.__file__)")
    out = subprocess.run([str(python), "-c", check], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lifetime, where = out.stdout.split()
    assert lifetime == "86400" and where.startswith(str(tmp_path / "venv"))


def test_without_any_wheel_the_build_stops_in_one_line_naming_the_fix(tmp_path):
    """Where neither the Python nor Debian has the wheel package, setup.py
    says what to install (one line), instead of setuptools' "invalid
    command 'bdist_wheel'"; where Debian has it, a plain venv borrows it."""
    python = plain_venv(tmp_path / "venv")
    probe = ("import runpy, sys\n"
             "g = runpy.run_path('setup.py', run_name='scboot_setup')\n"
             "cmd = g['bdist_wheel_command'](*sys.argv[1:])\n"
             "print(cmd.__module__, sys.modules[cmd.__module__].__file__)")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    out = subprocess.run([str(python), "-c", probe, str(tmp_path / "no-site")],
                         capture_output=True, text=True, cwd=SOURCE_DIR, env=env, timeout=120)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "scboot: building needs the 'wheel' package (setuptools' bdist_wheel), which neither "
        "this Python nor Debian's has: apt-get install python3-wheel (then any venv of "
        "/usr/bin/python3 works), or pip install wheel"], out.stderr
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True,
                         cwd=SOURCE_DIR, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["wheel.bdist_wheel",
                                  "/usr/lib/python3/dist-packages/wheel/bdist_wheel.py"]


def test_benchmark_script_prints_its_metric():
    script = SOURCE_DIR / "bench" / "bench_python.py"
    build = pathlib.Path(scboot.__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(script), str(build), "--quick"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    values = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    assert set(values) == {"python_transmit_ns", "c_transmit_ns", "python_transmit_overhead_ns"}
    numbers = {}
    for name, text in values.items():
        number, unit = text.split()
        assert unit == "ns"
        numbers[name] = float(number)
    assert numbers["c_transmit_ns"] > 0
    assert numbers["python_transmit_overhead_ns"] == pytest.approx(
        numbers["python_transmit_ns"] - numbers["c_transmit_ns"], abs=1)
