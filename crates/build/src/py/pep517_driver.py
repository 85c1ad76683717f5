"""Call a PEP 517 build backend: manywheel build's driver.

usage: python3 pep517_driver.py HOOK SOURCE_DIR OUT_DIR RESULT_JSON BACKEND BACKEND_PATH_JSON
HOOK: get_requires_for_build_wheel or build_wheel, whose result (a list of requirements or the
wheel's file name) is written to RESULT_JSON; or requires_then_build: both in one process (one
import of the backend, which is what costs under emulation): {"requires": [...], "wheel": NAME}
with "wheel" null when a requirement is not installed yet (the caller installs it and calls
build_wheel). The backend's output goes to stdout/stderr. The config settings passed to the
hooks are the JSON object in $MANYWHEEL_CONFIG_SETTINGS (default {}).
"""

import importlib
import importlib.metadata
import json
import os
import re
import sys


def installed(requirement):
    """Whether the distribution a requirement names is importable from sys.path (its version
    is not checked: the requirements folder was made for these requirements)."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not m:
        return False
    try:
        importlib.metadata.distribution(m.group(1))
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def load_backend(spec, backend_path, source):
    for entry in reversed(backend_path):
        sys.path.insert(0, os.path.join(source, entry))
    module_name, _, attrs = spec.partition(":")
    obj = importlib.import_module(module_name.strip())
    for attr in filter(None, attrs.strip().split(".")):
        obj = getattr(obj, attr)
    return obj


def main():
    hook, source, out_dir, result, spec, backend_path = sys.argv[1:7]
    os.chdir(source)
    backend = load_backend(spec, json.loads(backend_path), source)
    settings = json.loads(os.environ.get("MANYWHEEL_CONFIG_SETTINGS") or "{}")
    if hook == "get_requires_for_build_wheel":
        fn = getattr(backend, hook, None)
        value = list(fn(settings)) if fn else []
    elif hook == "build_wheel":
        value = backend.build_wheel(out_dir, settings, None)
    elif hook == "requires_then_build":
        fn = getattr(backend, "get_requires_for_build_wheel", None)
        requires = list(fn(settings)) if fn else []
        wheel = None
        if all(installed(r) for r in requires):
            wheel = backend.build_wheel(out_dir, settings, None)
        value = {"requires": requires, "wheel": wheel}
    else:
        sys.exit(f"unknown hook {hook}")
    with open(result, "w", encoding="utf-8") as f:
        json.dump(value, f)


main()
