#!/usr/bin/env python3
"""Time `manywheel show --json` against `auditwheel show` and `unzip -p` on real wheels.

usage: show.py [--repeat N] [--json FILE] [WHEEL_OR_DIR ...]

Each command runs N times per wheel (default 3) and the best wall time is kept; peak RSS
is that of the same child process (os.wait4), in MiB. Prints a Markdown table on stdout.
Default wheels: every *.whl in $MANYWHEEL_CORPUS (~/.cache/manywheel-corpus).
Binaries: $MANYWHEEL_BIN (default target/release/manywheel; its column is left blank when
it does not exist), $MANYWHEEL_AUDITWHEEL (default .venv/bin/auditwheel), unzip on PATH.
"""

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLANK = "—"


class Run:
    """The best of several runs of one command on one wheel."""

    def __init__(self):
        self.seconds = None  # best wall time of the runs that succeeded
        self.rss_mib = None  # peak RSS of that best run
        self.error = None  # exit status and first stderr line of a failed run

    @property
    def ok(self):
        return self.error is None and self.seconds is not None

    def as_dict(self):
        return {"seconds": self.seconds, "peak_rss_mib": self.rss_mib, "error": self.error}


# A child's peak RSS as the kernel counts it starts at its parent's RSS at fork time (the
# high-water mark survives exec), so measured straight from Python every tool would read at
# least Python's ~14 MB. GNU time is a small C parent: its floor is ~1 MB.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_once(argv, env=None):
    """Run argv with stdout discarded; return (wall seconds, peak RSS MiB, status, stderr)."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss_file:
        wrapped = [GNU_TIME, "-f", "%M", "-o", rss_file.name, *argv] if GNU_TIME else argv
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        rss_kib = usage.ru_maxrss
        if GNU_TIME:
            # GNU time exits with the command's status; its -o file ends with the %M line
            # (after a "Command exited with non-zero status" line when there is one).
            lines = rss_file.read().split()
            rss_kib = int(lines[-1]) if lines and lines[-1].isdigit() else None
    return wall, None if rss_kib is None else rss_kib / 1024.0, proc.returncode, stderr


def best_of(argv, repeat, env=None, ok_codes=(0,)):
    run = Run()
    for _ in range(repeat):
        wall, rss, code, stderr = run_once(argv, env)
        if code not in ok_codes:
            lines = [l for l in stderr.strip().splitlines() if l.strip()]
            run.error = f"exit {code}: {lines[-1] if lines else '(no stderr)'}"
            return run
        if run.seconds is None or wall < run.seconds:
            run.seconds, run.rss_mib = wall, rss
    return run


def find_wheels(args):
    if not args:
        corpus = os.environ.get("MANYWHEEL_CORPUS", str(Path.home() / ".cache/manywheel-corpus"))
        args = [corpus]
    wheels = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            wheels.extend(sorted(p.glob("*.whl")))
        elif p.is_file():
            wheels.append(p)
        else:
            sys.exit(f"show.py: no such wheel or folder: {arg}")
    return wheels


def version_of(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
        return out.strip().splitlines()[0] if out.strip() else "?"
    except OSError:
        return "?"


def fmt(x, spec):
    return BLANK if x is None else format(x, spec)


def cell(run, spec=".3f"):
    if run is None:
        return BLANK
    if not run.ok:
        return "fail"
    return fmt(run.seconds, spec)


def ratio(a, b):
    if a is None or b is None or not a.ok or not b.ok or b.seconds <= 0:
        return None
    return a.seconds / b.seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheels", nargs="*", metavar="WHEEL_OR_DIR")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (best kept)")
    parser.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")
    parser.add_argument("--no-auditwheel", action="store_true", help="skip the slow reference")
    args = parser.parse_args(argv)

    ours = Path(os.environ.get("MANYWHEEL_BIN", ROOT / "target/release/manywheel"))
    auditwheel = Path(os.environ.get("MANYWHEEL_AUDITWHEEL", ROOT / ".venv/bin/auditwheel"))
    unzip = shutil.which("unzip")
    have_ours = ours.is_file() and os.access(ours, os.X_OK)
    have_aw = not args.no_auditwheel and auditwheel.is_file()
    if not have_ours:
        print(f"show.py: {ours} not found: 'ours' column left blank "
              "(cargo build --release, or set MANYWHEEL_BIN)", file=sys.stderr)
    if not have_aw and not args.no_auditwheel:
        print(f"show.py: {auditwheel} not found: run bench/show.sh, or set MANYWHEEL_AUDITWHEEL",
              file=sys.stderr)
    if unzip is None:
        print("show.py: unzip not on PATH: 'unzip' column left blank", file=sys.stderr)
    if GNU_TIME is None:
        print("show.py: /usr/bin/time not found (apt-get install time): peak RSS includes "
              "this Python's own ~14 MB", file=sys.stderr)

    wheels = find_wheels(args.wheels)
    if not wheels:
        sys.exit("show.py: no wheels to measure")
    # auditwheel's own INFO logging and colours are noise here; keep its environment quiet.
    aw_env = dict(os.environ, PYTHONWARNINGS="ignore")

    rows, results = [], []
    for i, whl in enumerate(wheels, 1):
        print(f"[{i}/{len(wheels)}] {whl.name}", file=sys.stderr)
        size_mb = whl.stat().st_size / 1e6
        # ours: 0 = ok; 1 = the wheel failed a check, which still is a complete `show`.
        r_ours = best_of([str(ours), "show", "--json", str(whl)], args.repeat,
                         ok_codes=(0, 1)) if have_ours else None
        r_aw = best_of([str(auditwheel), "show", str(whl)], args.repeat, env=aw_env) \
            if have_aw else None
        r_unzip = best_of([unzip, "-p", str(whl)], args.repeat) if unzip else None
        speedup = ratio(r_aw, r_ours)
        vs_unzip = ratio(r_ours, r_unzip)
        rows.append([
            whl.name, f"{size_mb:.2f}", cell(r_ours), cell(r_aw), cell(r_unzip),
            fmt(speedup, ".1f"), fmt(vs_unzip, ".2f"),
            fmt(r_ours.rss_mib if r_ours is not None and r_ours.ok else None, ".1f"),
        ])
        results.append({
            "wheel": whl.name, "size_bytes": whl.stat().st_size,
            "ours": r_ours and r_ours.as_dict(), "auditwheel": r_aw and r_aw.as_dict(),
            "unzip": r_unzip and r_unzip.as_dict(),
            "speedup_vs_auditwheel": speedup, "ours_over_unzip": vs_unzip,
        })

    # Totals over the wheels where every tool that ran succeeded (so the sums compare the same
    # work), and the geometric mean of the per-wheel speedups (the fair average of ratios).
    tools = ("ours", "auditwheel", "unzip")
    complete = [r for r in results if all(r[t] is None or r[t]["error"] is None for t in tools)]

    def total(tool):
        vals = [r[tool]["seconds"] for r in complete if r[tool] is not None]
        return sum(vals) if vals else None

    speedups = [r["speedup_vs_auditwheel"] for r in complete if r["speedup_vs_auditwheel"]]
    geo = math.exp(sum(map(math.log, speedups)) / len(speedups)) if speedups else None
    t_ours, t_unzip = total("ours"), total("unzip")
    rss = [r["ours"]["peak_rss_mib"] for r in complete if r["ours"] is not None]
    label = "all" if len(complete) == len(results) else f"{len(complete)} of"
    rows.append([
        f"**{label} {len(results)}: sum, geo-mean ×, max RSS**",
        f"{sum(r['size_bytes'] for r in complete) / 1e6:.1f}",
        fmt(t_ours, ".2f"), fmt(total("auditwheel"), ".2f"), fmt(t_unzip, ".2f"), fmt(geo, ".1f"),
        fmt(t_ours / t_unzip if t_ours and t_unzip else None, ".2f"),
        fmt(max(rss) if rss else None, ".1f"),
    ])

    aw_version = version_of([str(auditwheel), "--version"]).split(" installed")[0] \
        if have_aw else "not run"
    ours_version = version_of([str(ours), "--version"]) if have_ours else "not built"
    print(f"`show` on {len(wheels)} wheels, best of {args.repeat}; {ours_version}; {aw_version}; "
          f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n")
    header = ["wheel", "size MB", "ours s", "auditwheel s", "unzip s",
              "speedup vs auditwheel (×)", "ours/unzip", "ours peak RSS MB"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")

    failures = [(r["wheel"], tool, r[tool]["error"]) for r in results
                for tool in tools if r[tool] and r[tool]["error"]]
    if failures:
        print("\nfail:")
        for wheel, tool, error in failures:
            print(f"- {tool} on {wheel}: {error}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"repeat": args.repeat, "ours": ours_version, "auditwheel": aw_version,
                       "cpus": os.cpu_count(), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
