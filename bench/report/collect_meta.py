#!/usr/bin/env python3
"""Writes meta.json for the benchmark report: date, commit, machine, command, stages.

Called by bench/scripts/report.sh at the end of a run (standard library only):

    python3 bench/report/collect_meta.py --out DIR/meta.json --stages DIR/stages.tsv \
        --command "bench/scripts/report.sh --sizes 16,64,256" --sizes 16,64,256 --repeat 2 \
        [--loadavg-start 1.23] [--ezkl-source "this run"] [--ingest-source "this run"]

stages.tsv has one line per stage: name, status (ok, failed, skipped, reused), seconds, log file.
"""

import argparse
import json
import os
import platform
import subprocess
import time


def read_first(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def mem_bytes():
    value = read_first("/proc/meminfo", "MemTotal")
    if value and value.endswith("kB"):
        return int(value.split()[0]) * 1024
    return None


def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def git(*args):
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=True, timeout=30)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def tool_version(*cmd):
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, check=True, timeout=30)
        return out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def read_stages(path):
    stages = []
    if not path or not os.path.exists(path):
        return stages
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2 or not parts[0]:
                continue
            seconds = None
            if len(parts) > 2 and parts[2]:
                try:
                    seconds = float(parts[2])
                except ValueError:
                    pass
            stages.append(
                {
                    "name": parts[0],
                    "status": parts[1],
                    "seconds": seconds,
                    "log": parts[3] if len(parts) > 3 and parts[3] else None,
                    "note": parts[4] if len(parts) > 4 and parts[4] else None,
                }
            )
    return stages


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--stages")
    p.add_argument("--command", default="")
    p.add_argument("--sizes", default="")
    p.add_argument("--repeat", type=int)
    p.add_argument("--loadavg-start", type=float)
    p.add_argument("--started")
    p.add_argument("--ezkl-source")
    p.add_argument("--ingest-source")
    args = p.parse_args()

    status = git("status", "--porcelain", "--untracked-files=no")
    meta = {
        "kind": "merit-bench-meta",
        "started_utc": args.started,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "machine": {
            "cpu_model": read_first("/proc/cpuinfo", "model name") or platform.processor() or None,
            "cores": cores(),
            "mem_bytes": mem_bytes(),
            "kernel": platform.release(),
            "os": f"{platform.system()} {platform.release()} {platform.machine()}",
            "hostname": platform.node(),
        },
        "loadavg_start": args.loadavg_start,
        "loadavg_end": os.getloadavg()[0],
        "command": args.command,
        "sizes": [int(s) for s in args.sizes.split(",") if s.strip()],
        "repeat": args.repeat,
        "rustc": tool_version("rustc", "--version"),
        "python": platform.python_version(),
        "ezkl_source": args.ezkl_source,
        "ingest_source": args.ingest_source,
        "stages": read_stages(args.stages),
    }
    with open(args.out, "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
