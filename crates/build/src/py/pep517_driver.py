"""Call a PEP 517 build backend: manywheel build's driver.

usage: python3 pep517_driver.py HOOK SOURCE_DIR OUT_DIR RESULT_JSON BACKEND BACKEND_PATH_JSON
HOOK: get_requires_for_build_wheel or build_wheel. The result (a list of requirements or the
wheel's file name) is written to RESULT_JSON; the backend's output goes to stdout/stderr.
"""

import importlib
import json
import os
import sys


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
    if hook == "get_requires_for_build_wheel":
        fn = getattr(backend, hook, None)
        value = list(fn({})) if fn else []
    elif hook == "build_wheel":
        value = backend.build_wheel(out_dir, {}, None)
    else:
        sys.exit(f"unknown hook {hook}")
    with open(result, "w", encoding="utf-8") as f:
        json.dump(value, f)


main()
