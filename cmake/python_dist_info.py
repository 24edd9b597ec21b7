"""Write the scboot-VERSION.dist-info directory of an installed package
from pyproject.toml: what importlib.metadata reads, so that pytest finds
the plugin through its pytest11 entry point when the package was
installed by CMake (`cmake --install`, the Debian package) rather than by
pip; and OUTDIR/bin/NAME for each [project.scripts] entry, the launcher
pip would make (run by this interpreter).

usage: python3 python_dist_info.py PYPROJECT VERSION OUTDIR
"""
import os
import shutil
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib


def main(pyproject, version, outdir):
    with open(pyproject, "rb") as f:
        project = tomllib.load(f)["project"]
    if project["version"] != version:
        sys.exit(f"{pyproject}: version {project['version']} is not the project's {version}")
    info = os.path.join(outdir, f"{project['name']}-{version}.dist-info")
    shutil.rmtree(info, ignore_errors=True)  # nothing stale from an earlier run
    os.makedirs(info)
    meta = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {version}",
            f"Summary: {project['description']}"]
    if "requires-python" in project:
        meta.append(f"Requires-Python: {project['requires-python']}")
    meta += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    meta += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]
    with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as f:
        f.write("\n".join(meta) + "\n")
    scripts = project.get("scripts", {})
    groups = dict(project.get("entry-points", {}))
    if scripts:
        groups["console_scripts"] = scripts
    with open(os.path.join(info, "entry_points.txt"), "w", encoding="utf-8") as f:
        for group, entries in groups.items():
            f.write(f"[{group}]\n")
            f.writelines(f"{name} = {target}\n" for name, target in entries.items())
            f.write("\n")
    bindir = os.path.join(outdir, "bin")
    shutil.rmtree(bindir, ignore_errors=True)
    os.makedirs(bindir)
    for name, target in scripts.items():
        module, func = target.split(":")
        path = os.path.join(bindir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"#!{sys.executable}\n# {name}: the [project.scripts] entry of {project['name']}\n"
                    f"import sys\n\nfrom {module} import {func}\n\nsys.exit({func}())\n")
        os.chmod(path, 0o755)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
