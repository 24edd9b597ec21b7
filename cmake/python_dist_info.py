"""Write the scboot-VERSION.dist-info directory of an installed package
from pyproject.toml: what importlib.metadata reads, so that pytest finds
the plugin through its pytest11 entry point when the package was
installed by CMake (`cmake --install`, the Debian package) rather than by
pip.

usage: python3 python_dist_info.py PYPROJECT VERSION OUTDIR
"""
import os
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
    os.makedirs(info, exist_ok=True)
    meta = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {version}",
            f"Summary: {project['description']}"]
    if "requires-python" in project:
        meta.append(f"Requires-Python: {project['requires-python']}")
    meta += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    meta += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]
    with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as f:
        f.write("\n".join(meta) + "\n")
    groups = project.get("entry-points", {})
    with open(os.path.join(info, "entry_points.txt"), "w", encoding="utf-8") as f:
        for group, entries in groups.items():
            f.write(f"[{group}]\n")
            f.writelines(f"{name} = {target}\n" for name, target in entries.items())
            f.write("\n")
    with open(os.path.join(info, "top_level.txt"), "w", encoding="utf-8") as f:
        f.write(project["name"] + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
