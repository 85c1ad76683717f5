#!/usr/bin/env python3
"""Regenerate manylinux-policy.json and musllinux-policy.json in this folder.

The facts come from the policy data that auditwheel maintains (auditwheel 6.8.2:
auditwheel/policy/manylinux-policy.json and musllinux-policy.json). This script only
re-serialises them in a stable, line-oriented layout (one policy field, one architecture
namespace and one blacklist entry per line); it does not change any value.

Usage:
    python3 gen_policy.py [AUDITWHEEL_POLICY_DIR]

Without an argument it looks for an installed `auditwheel` package (without importing it).
"""

import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = ("manylinux-policy.json", "musllinux-policy.json")
KEYS = ("name", "aliases", "priority", "symbol_versions", "lib_whitelist", "blacklist")


def find_source_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    spec = importlib.util.find_spec("auditwheel")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("auditwheel is not installed; pass its policy directory as argument")
    return Path(list(spec.submodule_search_locations)[0]) / "policy"


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def render(policies) -> str:
    out = ["["]
    for i, policy in enumerate(policies):
        unknown = set(policy) - set(KEYS)
        if unknown:
            sys.exit(f"unexpected keys in policy {policy.get('name')}: {sorted(unknown)}")
        out.append("  {")
        out.append(f'    "name": {dump(policy["name"])},')
        out.append(f'    "aliases": {dump(policy["aliases"])},')
        out.append(f'    "priority": {dump(policy["priority"])},')
        archs = policy["symbol_versions"]
        if archs:
            out.append('    "symbol_versions": {')
            for j, (arch, namespaces) in enumerate(archs.items()):
                comma = "," if j + 1 < len(archs) else ""
                if namespaces:
                    out.append(f"      {dump(arch)}: {{")
                    for k, (ns, versions) in enumerate(namespaces.items()):
                        c = "," if k + 1 < len(namespaces) else ""
                        out.append(f"        {dump(ns)}: {dump(versions)}{c}")
                    out.append(f"      }}{comma}")
                else:
                    out.append(f"      {dump(arch)}: {{}}{comma}")
            out.append("    },")
        else:
            out.append('    "symbol_versions": {},')
        out.append(f'    "lib_whitelist": {dump(policy["lib_whitelist"])},')
        blacklist = policy["blacklist"]
        if blacklist:
            out.append('    "blacklist": {')
            for j, (lib, symbols) in enumerate(blacklist.items()):
                comma = "," if j + 1 < len(blacklist) else ""
                out.append(f"      {dump(lib)}: {dump(symbols)}{comma}")
            out.append("    }")
        else:
            out.append('    "blacklist": {}')
        out.append("  }" + ("," if i + 1 < len(policies) else ""))
    out.append("]")
    return "\n".join(out) + "\n"


def main() -> None:
    src = find_source_dir()
    for name in FILES:
        policies = json.loads((src / name).read_text())
        text = render(policies)
        if json.loads(text) != policies:
            sys.exit(f"round-trip mismatch for {name}")
        (HERE / name).write_text(text)
        print(f"wrote {HERE / name} ({len(policies)} policies) from {src / name}")


if __name__ == "__main__":
    main()
