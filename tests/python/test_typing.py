"""Static types, with Debian's mypy: ``mypy --strict`` is clean over the
package (the build tree's, with the generated SWIG module) and over user
programs like the README's, which get the package's types (a card from
``with Card.sim() as card`` is a Card, not Any); the stubs of the C
extension and of SWIG's proxy module agree with the modules (stubtest)."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import scboot
from conftest import SOURCE_DIR

pytestmark = pytest.mark.mypy

PACKAGE_PARENT = pathlib.Path(scboot.__file__).resolve().parents[1]
MYPY = "/usr/bin/mypy"


def mypy(tmp_path, *args, cwd=None):
    env = dict(os.environ, MYPYPATH=str(PACKAGE_PARENT))
    out = subprocess.run([MYPY, "--strict", "--cache-dir", str(tmp_path / "mypy-cache"), *args],
                         capture_output=True, text=True, env=env, cwd=cwd or tmp_path,
                         timeout=600)
    return out.returncode, out.stdout + out.stderr


def test_the_package_is_clean_under_mypy_strict(tmp_path):
    rc, output = mypy(tmp_path, "scboot", cwd=PACKAGE_PARENT)
    assert rc == 0, output
    assert re.fullmatch(r"Success: no issues found in \d+ source files\n", output), output


def readme_python_snippet():
    readme = (SOURCE_DIR / "README.md").read_text()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readmes_python_snippet_type_checks(tmp_path):
    program = tmp_path / "readme.py"
    program.write_text(readme_python_snippet())
    assert "scboot.Card.open(" in program.read_text()
    rc, output = mypy(tmp_path, str(program))
    assert rc == 0, output


USER_PROGRAM = '''\
import scboot
K = "404142434445464748494A4B4C4D4E4F"
with scboot.Card.sim() as card, scboot.Keys(enc=K, mac=K, dek=K, kvn=0x30) as keys:
    reveal_type(card)
    reveal_type(keys)
    bs = card.read_bootstrap(keys, kvn=0x30)
    reveal_type(bs)
    reveal_type(bs.access)
    reveal_type(bs.servers)
    info = card.write_bootstrap(bs, keys, pad=True)
    reveal_type(info.s16)
    try:
        card.transmit("00A4040000")
    except scboot.CardStatusError as e:
        reveal_type(e.sw)
    card.read_bootstrap("404142434445464748494A4B4C4D4E4F")
'''

REVEALED = ['"scboot._card.Card"', '"scboot._keys.Keys"', '"scboot._bootstrap.Bootstrap"',
            '"Union[scboot._types.AccessInfo, None]"',
            '"builtins.list[builtins.dict[builtins.str, Any]]"', '"Union[builtins.bool, None]"',
            '"Union[builtins.int, None]"']


def test_a_user_program_gets_the_packages_types(tmp_path):
    program = tmp_path / "user.py"
    program.write_text(USER_PROGRAM)
    rc, output = mypy(tmp_path, str(program))
    revealed = re.findall(r"note: Revealed type is (.*)", output)
    assert revealed == REVEALED, output
    errors = re.findall(r":(\d+): error: (.*)", output)
    # the one mistake of the program: hex text where the key set belongs
    assert errors == [("16", 'Argument 1 to "read_bootstrap" of "Card" has incompatible type '
                             '"str"; expected "Optional[Keys]"  [arg-type]')], output
    assert rc == 1


def stubtest(package_parent):
    env = dict(os.environ, PYTHONPATH=str(package_parent), MYPYPATH=str(package_parent))
    out = subprocess.run([sys.executable, "-m", "mypy.stubtest", "--ignore-missing-stub",
                          "scboot._scboot", "scboot._core"], capture_output=True, text=True,
                         env=env, cwd=package_parent, timeout=600)
    return out.returncode, out.stdout + out.stderr


def test_the_stubs_agree_with_the_modules(tmp_path):
    rc, output = stubtest(PACKAGE_PARENT)
    assert rc == 0, output
    # a name the extension does not have, or a member declared writable
    # that the module keeps read-only, is found
    copy = tmp_path / "pkg"
    shutil.copytree(PACKAGE_PARENT / "scboot", copy / "scboot")
    stub = copy / "scboot" / "_scboot.pyi"
    stub.write_text(stub.read_text() + "def scb_no_such_function() -> int: ...\n")
    core = copy / "scboot" / "_core.pyi"
    text = core.read_text()
    member = "class scb_bs_instance_t:\n    @property\n    def id(self) -> int: ...\n"
    assert member in text
    core.write_text(text.replace(member, "class scb_bs_instance_t:\n    id: int\n"))
    rc, output = stubtest(copy)
    assert rc == 1, output
    assert "scboot._scboot.scb_no_such_function is not present at runtime" in output
    assert "scboot._core.scb_bs_instance_t.id is read-only at runtime but not in the stub" \
        in output
