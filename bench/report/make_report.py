#!/usr/bin/env python3
"""Assembles Merit's benchmark report from the raw measurements of one run.

    python3 bench/report/make_report.py --in bench/results/<run> --out bench/results/<run> [--no-plots]

Reads every JSON file under --in (recursively) and recognises it by its content:

  *.bench.json   merit-prover bench (prover/src/bench.rs, BenchReport); files under a
                 reference/<name>/ folder are earlier runs on other hosts (shown, never compared)
  *.stats.json   merit circuit stats --json (cli/src/prove.rs)
  score error    merit model import ... --json (core/src/onnx.rs, ImportReport)
  ezkl.json      bench/peers/ezkl/run_ezkl.py ("tool": "ezkl")
  ingest.json    merit-loadgen ("benchmark": "ingest"), crash.json ("benchmark": "crash");
                 ingest-relay.json: the same with setup.per_request > 1 (POST /v1/contributions/batch)
  demo.json      merit demo --summary-json (cli/src/demo/full.rs)
  meta.json      bench/report/collect_meta.py ("kind": "merit-bench-meta")

and gas.txt (the output of verifier-contracts/scripts/gas.sh). Writes report.md, report.json
(every number of the Markdown, unrounded, in the same tables) and, with matplotlib,
prove_time_vs_batch.png, throughput_vs_batch.png and gas.png. Whatever is missing is reported
as "not measured". Standard library only, except matplotlib for the plots.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys

TARGET_RATIO = 10.0
NOT_MEASURED = "not measured"

# ---------------------------------------------------------------------------------------------
# Reading the inputs


def classify(obj):
    if not isinstance(obj, dict):
        return None
    if obj.get("kind") == "merit-bench-meta":
        return "meta"
    if "verifying_key_keccak" in obj and "proofs" in obj and "contributions" in obj:
        return "bench"
    if "advice_cells_per_contribution" in obj and "stats" in obj:
        return "stats"
    if obj.get("tool") == "ezkl" and "runs" in obj:
        return "ezkl"
    if obj.get("benchmark") == "ingest":
        per_request = (obj.get("setup") or {}).get("per_request") or 1
        return "ingest_relay" if per_request > 1 else "ingest"
    if obj.get("benchmark") == "crash":
        return "crash"
    if isinstance(obj.get("calibration"), dict) and "scale_bits" in obj:
        return "score"
    if "batches" in obj and "contributors" in obj and "circuit" in obj:
        return "demo"
    return None


def load_inputs(in_dir):
    found = {
        "bench": [],
        "stats": [],
        "ezkl": None,
        "ingest": None,
        "ingest_relay": None,
        "crash": None,
        "score": None,
        "demo": None,
        "meta": None,
        "gas_text": None,
        "files": [],
    }
    skip = {"report.json"}
    for root, dirs, files in os.walk(in_dir):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, in_dir)
            if name.endswith(".txt") and name.startswith("gas"):
                with open(path, errors="replace") as f:
                    found["gas_text"] = f.read()
                found["files"].append({"path": rel, "kind": "gas"})
                continue
            if not name.endswith(".json") or name in skip:
                continue
            try:
                with open(path) as f:
                    obj = json.load(f)
            except (OSError, ValueError):
                continue
            kind = classify(obj)
            if kind is None:
                continue
            found["files"].append({"path": rel, "kind": kind})
            if kind == "bench":
                parts = rel.split(os.sep)
                reference = parts[1] if parts[0] == "reference" and len(parts) > 2 else None
                found["bench"].append({"path": rel, "reference": reference, "report": obj})
            elif kind == "stats":
                found["stats"].append({"path": rel, "report": obj})
            else:
                found[kind] = obj
    return found


# ---------------------------------------------------------------------------------------------
# Formatting


def num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def f_int(x):
    return f"{int(round(x)):,}" if num(x) else NOT_MEASURED


def f_s(x):
    if not num(x):
        return NOT_MEASURED
    if x < 1:
        return f"{x:.3f}"
    if x < 100:
        return f"{x:.2f}"
    return f"{x:,.1f}"


def f_ms(x):
    if not num(x):
        return NOT_MEASURED
    return f"{x:.2f}" if x < 100 else f"{x:,.1f}"


def f_rate(x):
    if not num(x):
        return NOT_MEASURED
    if x < 10:
        return f"{x:.2f}"
    if x < 1000:
        return f"{x:.1f}"
    return f"{x:,.0f}"


def f_ratio(x):
    if not num(x):
        return NOT_MEASURED
    return f"{x:.2f}×" if x < 10 else f"{x:,.1f}×"


def f_err(x):
    return f"{x:.6f}" if num(x) else NOT_MEASURED


def f_pct(x):
    return f"{x:.3f} %" if num(x) else NOT_MEASURED


def f_gib(x):
    return f"{x / 2**30:.2f}" if num(x) else NOT_MEASURED


def f_na(formatter):
    """For columns that do not apply to every row: an empty value is a dash, not a gap."""
    return lambda x: formatter(x) if num(x) else "—"


def f_text(x):
    if x is None or x == "":
        return NOT_MEASURED
    if isinstance(x, bool):
        return "yes" if x else "no"
    return str(x).replace("|", "\\|").replace("\n", " ")


class Table:
    """A table whose rows are kept raw for report.json and formatted for the Markdown."""

    def __init__(self, key, title, columns):
        self.key = key
        self.title = title
        self.columns = columns  # (key, header, formatter)
        self.rows = []

    def add(self, **row):
        self.rows.append(row)

    def markdown(self):
        head = "| " + " | ".join(h for _, h, _ in self.columns) + " |"
        rule = "|" + "|".join("---" for _ in self.columns) + "|"
        lines = [head, rule]
        for row in self.rows:
            lines.append("| " + " | ".join(fmt(row.get(k)) for k, _, fmt in self.columns) + " |")
        return "\n".join(lines)

    def json(self):
        return {
            "title": self.title,
            "columns": [{"key": k, "header": h} for k, h, _ in self.columns],
            "rows": self.rows,
        }


# ---------------------------------------------------------------------------------------------
# The sections


def best_proof_s(report):
    proofs = report.get("proofs") or []
    totals = [p["witness_s"] + p["prove_s"] for p in proofs if num(p.get("witness_s")) and num(p.get("prove_s"))]
    return min(totals) if totals else None


def mean_proof_s(report):
    proofs = report.get("proofs") or []
    totals = [p["witness_s"] + p["prove_s"] for p in proofs if num(p.get("witness_s")) and num(p.get("prove_s"))]
    return sum(totals) / len(totals) if totals else None


def host_label(report):
    host = report.get("host") or {}
    label = host.get("gpu") or host.get("cpu") or "unknown host"
    threads = host.get("threads")
    return f"{label}, {threads} threads" if threads and not host.get("gpu") else label


def merit_runs(inputs):
    """The bench reports of this run by backend: {backend: {N: report}} (the fastest per N)."""
    ours = {}
    for entry in inputs["bench"]:
        if entry["reference"]:
            continue
        report = entry["report"]
        by_n = ours.setdefault(report.get("backend", "cpu"), {})
        n = report["contributions"]
        if n not in by_n or (report.get("contributions_per_second") or 0) > (
            by_n[n].get("contributions_per_second") or 0
        ):
            by_n[n] = report
    return ours


def reference_runs(inputs):
    refs = {}
    for entry in inputs["bench"]:
        if entry["reference"]:
            report = entry["report"]
            refs.setdefault((entry["reference"], report.get("backend", "cpu")), {})[report["contributions"]] = report
    return refs


def ezkl_runs(inputs):
    ezkl = inputs["ezkl"] or {}
    return {run["batch_size"]: run for run in ezkl.get("runs", []) if "batch_size" in run}


def ezkl_failure(run):
    if run is None:
        return NOT_MEASURED
    if run.get("status") == "ok":
        return "ok"
    phase = run.get("failed_phase") or run.get("phase")
    reason = (run.get("reason") or run.get("status") or "failed").splitlines()[0][:80]
    return f"failed{' in ' + phase if phase else ''}: {reason}"


def comparison(inputs, sizes, meta):
    ours = merit_runs(inputs)
    theirs = ezkl_runs(inputs)
    table = Table(
        "comparison",
        "Merit vs EZKL, same machine and model",
        [
            ("batch_size", "batch size", f_int),
            ("backend", "Merit backend", f_text),
            ("merit_prove_s", "Merit prove (s)", f_s),
            ("ezkl_prove_s", "EZKL prove (s)", f_s),
            ("time_ratio", "Merit ÷ EZKL time", f_ratio),
            ("merit_contributions_per_s", "Merit contributions/s", f_rate),
            ("ezkl_contributions_per_s", "EZKL contributions/s", f_rate),
            ("throughput_ratio", "Merit ÷ EZKL contributions/s", f_ratio),
            ("target_met", f"≥ {TARGET_RATIO:g}×", f_text),
            ("merit_status", "Merit status", f_text),
            ("ezkl_status", "EZKL status", f_text),
        ],
    )
    backends = sorted(ours) or ["cpu"]
    for b in sizes:
        run = theirs.get(b)
        ok = run is not None and run.get("status") == "ok"
        ezkl_prove = (run.get("times_s") or {}).get("prove") if ok else None
        ezkl_cps = run.get("contributions_per_s") if ok else None
        if ok and not num(ezkl_cps) and num(ezkl_prove) and ezkl_prove > 0:
            ezkl_cps = b / ezkl_prove
        for backend in backends:
            report = ours.get(backend, {}).get(b)
            merit_s = best_proof_s(report) if report else None
            merit_cps = report.get("contributions_per_second") if report else None
            throughput = merit_cps / ezkl_cps if num(merit_cps) and num(ezkl_cps) and ezkl_cps > 0 else None
            time_ratio = merit_s / ezkl_prove if num(merit_s) and num(ezkl_prove) and ezkl_prove > 0 else None
            table.add(
                batch_size=b,
                backend=backend,
                merit_prove_s=merit_s,
                ezkl_prove_s=ezkl_prove,
                time_ratio=time_ratio,
                merit_contributions_per_s=merit_cps,
                ezkl_contributions_per_s=ezkl_cps,
                throughput_ratio=throughput,
                target_met=(throughput >= TARGET_RATIO) if num(throughput) else None,
                merit_status="ok" if report else stage_note(meta, f"prover-n{b}"),
                ezkl_status=ezkl_failure(run),
            )
    return table


def ezkl_details(inputs):
    table = Table(
        "ezkl",
        "EZKL per batch size",
        [
            ("batch_size", "batch size", f_int),
            ("status", "status", f_text),
            ("logrows", "logrows", f_int),
            ("num_rows", "rows used", f_int),
            ("assignments_per_inference", "assignments per inference", f_int),
            ("setup_s", "setup (keygen, s)", f_s),
            ("witness_s", "witness (s)", f_s),
            ("prove_s", "prove (s)", f_s),
            ("verify_s", "verify (s)", f_s),
            ("srs_s", "SRS generation (s)", f_s),
            ("proof_bytes", "proof (B)", f_int),
            ("peak_rss_gib", "peak RSS (GiB)", lambda x: f"{x:.2f}" if num(x) else NOT_MEASURED),
            ("prove_cpu_utilisation", "prove CPU s ÷ wall s", lambda x: f"{x:.2f}" if num(x) else NOT_MEASURED),
            ("loadavg_at_start", "load at start", lambda x: f"{x:.2f}" if num(x) else NOT_MEASURED),
        ],
    )
    for b, run in sorted(ezkl_runs(inputs).items()):
        times = run.get("times_s") or {}
        cpu = run.get("cpu_s") or {}
        settings = run.get("settings") or {}
        assignments = settings.get("total_assignments")
        table.add(
            batch_size=b,
            status=ezkl_failure(run),
            logrows=run.get("logrows"),
            num_rows=settings.get("num_rows"),
            assignments_per_inference=assignments / b if num(assignments) and b else None,
            setup_s=times.get("setup"),
            witness_s=times.get("witness"),
            prove_s=times.get("prove"),
            verify_s=times.get("verify"),
            srs_s=times.get("srs"),
            proof_bytes=run.get("proof_bytes"),
            peak_rss_gib=run["peak_rss_bytes"] / 2**30 if num(run.get("peak_rss_bytes")) else None,
            prove_cpu_utilisation=cpu["prove"] / times["prove"]
            if num(cpu.get("prove")) and num(times.get("prove")) and times["prove"] > 0
            else None,
            loadavg_at_start=run.get("loadavg_at_start"),
        )
    return table


def prover_tables(inputs):
    columns = [
        ("config", "config", f_text),
        ("k", "k", f_int),
        ("contributions", "N", f_int),
        ("accounts", "M", f_int),
        ("srs_s", "SRS (s)", f_s),
        ("keygen_s", "keygen (s)", f_s),
        ("witness_s", "witness (s, best)", f_s),
        ("prove_s", "witness + prove (s, best)", f_s),
        ("prove_mean_s", "witness + prove (s, mean)", f_s),
        ("proofs", "proofs", f_int),
        ("verify_ms", "verify (ms)", f_ms),
        ("proof_bytes", "proof (B)", f_int),
        ("peak_rss_gib", "peak RSS (GiB)", lambda x: f"{x:.2f}" if num(x) else NOT_MEASURED),
        ("contributions_per_s", "contributions/s", f_rate),
    ]

    def fill(table, by_n):
        for n, report in sorted(by_n.items()):
            proofs = report.get("proofs") or []
            best = min(proofs, key=lambda p: p["witness_s"] + p["prove_s"]) if proofs else {}
            verify = [p["verify_s"] for p in proofs if num(p.get("verify_s"))]
            table.add(
                config=report.get("config"),
                k=report.get("k"),
                contributions=n,
                accounts=report.get("accounts"),
                srs_s=report.get("srs_s"),
                keygen_s=report.get("keygen_s"),
                witness_s=best.get("witness_s"),
                prove_s=best_proof_s(report),
                prove_mean_s=mean_proof_s(report),
                proofs=len(proofs),
                verify_ms=min(verify) * 1e3 if verify else None,
                proof_bytes=report.get("proof_bytes"),
                peak_rss_gib=report["peak_rss_bytes"] / 2**30 if num(report.get("peak_rss_bytes")) else None,
                contributions_per_s=report.get("contributions_per_second"),
                host=host_label(report),
            )

    tables = []
    for backend, by_n in sorted(merit_runs(inputs).items()):
        host = host_label(next(iter(by_n.values())))
        table = Table(f"prover_{backend}", f"{backend} backend, this run ({host})", columns)
        table.backend, table.reference = backend, None
        fill(table, by_n)
        tables.append(table)
    for (name, backend), by_n in sorted(reference_runs(inputs).items()):
        host = host_label(next(iter(by_n.values())))
        table = Table(f"reference_{name}_{backend}", f"{backend} backend, reference run {name} ({host}; another host, not compared)", columns)
        table.backend, table.reference = backend, name
        fill(table, by_n)
        tables.append(table)
    return tables


def cells_table(inputs):
    table = Table(
        "advice_cells",
        "Advice cells (merit circuit stats)",
        [
            ("config", "config", f_text),
            ("k", "k", f_int),
            ("contributions", "N", f_int),
            ("accounts", "M", f_int),
            ("advice_columns", "advice columns", f_int),
            ("permutations", "Poseidon permutations", f_int),
            ("total_advice_cells", "advice cells in all", f_int),
            ("advice_cells_per_contribution", "per contribution", f_int),
        ],
    )
    rows = []
    for entry in inputs["stats"]:
        r = entry["report"]
        config = r.get("config") or {}
        stats = r.get("stats") or {}
        rows.append(
            dict(
                config=config.get("name"),
                k=stats.get("k", config.get("k")),
                contributions=config.get("max_contributions"),
                accounts=config.get("max_accounts"),
                advice_columns=stats.get("advice_columns"),
                permutations=stats.get("permutations"),
                total_advice_cells=r.get("total_advice_cells"),
                advice_cells_per_contribution=r.get("advice_cells_per_contribution"),
            )
        )
    for row in sorted(rows, key=lambda r: (r["contributions"] or 0)):
        table.add(**row)
    return table


def score_table(inputs):
    table = Table(
        "score_error",
        "Score error against the float model",
        [
            ("prover", "prover", f_text),
            ("what", "quantization", f_text),
            ("samples", "samples", f_int),
            ("max_abs", "max abs error", f_err),
            ("mean_abs", "mean abs error", f_err),
            ("max_abs_pct", "max, % of score range", f_pct),
        ],
    )
    score = inputs["score"]
    if score:
        cal = score.get("calibration") or {}
        table.add(
            prover="Merit",
            what=f"fixed point 2^{score.get('scale_bits')} (merit model import), all calibration samples",
            samples=cal.get("samples"),
            max_abs=cal.get("max_abs_error"),
            mean_abs=cal.get("mean_abs_error"),
            max_abs_pct=cal.get("max_abs_error_pct"),
        )
    else:
        table.add(prover="Merit", what=NOT_MEASURED)
    runs = ezkl_runs(inputs)
    for b, run in sorted(runs.items()):
        err = run.get("score_error") or {}
        settings = run.get("settings") or {}
        scales = settings.get("input_scale"), settings.get("param_scale"), err.get("output_scale")
        what = "EZKL's calibrated scales"
        if any(s is not None for s in scales):
            what = f"input 2^{scales[0]}, params 2^{scales[1]}, output 2^{scales[2]} (EZKL's choice)"
        table.add(
            prover=f"EZKL, batch {b}",
            what=what if err else ezkl_failure(run),
            samples=err.get("count"),
            max_abs=err.get("max_abs"),
            mean_abs=err.get("mean_abs"),
            # both models end in a sigmoid: the score range is [0, 1]
            max_abs_pct=err["max_abs"] * 100 if num(err.get("max_abs")) else None,
        )
    if not runs:
        table.add(prover="EZKL", what=NOT_MEASURED)
    return table


GAS_VALUE = re.compile(r"gas=(\d+)|:\s*(\d+)\s*$")
INTRINSIC = re.compile(r"\+ intrinsic (\d+) \(21000 \+ (\d+) calldata bytes\); EIP-7623 floor of the whole tx (\d+)")


def parse_gas(text):
    """The rows of verifier-contracts/scripts/gas.sh: [{section, call, gas, ...}]."""
    rows, section = [], None
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            section = line.strip()
            continue
        stripped = line.strip()
        m = INTRINSIC.search(stripped)
        if m and rows:
            rows[-1]["intrinsic_gas"] = int(m.group(1))
            rows[-1]["calldata_bytes"] = int(m.group(2))
            rows[-1]["eip7623_floor_gas"] = int(m.group(3))
            continue
        m = GAS_VALUE.search(stripped)
        if not m:
            continue
        gas = int(m.group(1) or m.group(2))
        call = stripped[: m.start()].rstrip(" :")
        call = re.sub(r"\s*execution$", "", call)
        rest = stripped[m.end():].strip()
        if rest:
            call = f"{call} {rest}"
        row = {"section": section, "call": call, "gas": gas}
        config = re.match(r"(tiny|n\d+):", call)
        if config:
            row["config"] = config.group(1)
        touched = re.search(r"touched=(\d+)|(\d+) touched", call)
        if touched:
            row["touched"] = int(touched.group(1) or touched.group(2))
        kind = "verify" if "verification" in call else call.split()[0].rstrip(":")
        if config and "submitBatch" in call:
            kind = "submitBatch"
        row["kind"] = kind
        rows.append(row)
    return rows


def contributions_of(config):
    m = re.match(r"n(\d+)$", config or "")
    return int(m.group(1)) if m else (4 if config == "tiny" else None)


def gas_table(inputs):
    table = Table(
        "gas",
        "L1 gas",
        [
            ("source", "source", f_text),
            ("call", "call", f_text),
            ("gas", "gas", f_int),
            ("per_contribution", "gas per contribution", f_na(f_int)),
            ("intrinsic_gas", "+ intrinsic (21,000 + calldata)", f_na(f_int)),
        ],
    )
    for row in parse_gas(inputs["gas_text"]):
        source = "forge, real proof" if "real" in (row["section"] or "") or "real" in row["call"] else "forge, mock verifier"
        n = contributions_of(row.get("config"))
        per = row["gas"] / n if n and row["kind"] in ("verify", "submitBatch") else None
        table.add(
            source=source,
            call=row["call"],
            gas=row["gas"],
            per_contribution=per,
            intrinsic_gas=row.get("intrinsic_gas"),
            calldata_bytes=row.get("calldata_bytes"),
            eip7623_floor_gas=row.get("eip7623_floor_gas"),
            kind=row["kind"],
            label=f"{row['call']} [forge]",
        )
    demo = inputs["demo"]
    if demo:
        circuit = demo.get("circuit")
        n = contributions_of(circuit)
        submits = [b["submit_batch_gas"] for b in demo.get("batches", []) if num(b.get("submit_batch_gas"))]
        claims = [c["claim_gas"] for c in demo.get("contributors", []) if num(c.get("claim_gas")) and c["claim_gas"] > 0]
        for what, values, kind in (("submitBatch", submits, "submitBatch"), ("claim", claims, "claim")):
            if not values:
                continue
            mean = sum(values) / len(values)
            table.add(
                source=f"merit demo on anvil ({circuit}, real verifier)",
                call=f"{what}: mean of {len(values)} (min {min(values):,}, max {max(values):,}; transaction gas used)",
                gas=mean,
                gas_min=min(values),
                gas_max=max(values),
                count=len(values),
                per_contribution=mean / n if n and kind == "submitBatch" else None,
                kind=kind,
                label=f"{what} (demo on anvil, {circuit}, mean of {len(values)})",
            )
    return table


def ingest_table(inputs):
    table = Table(
        "ingest",
        "Sequencer ingestion",
        [
            ("mode", "submissions", f_text),
            ("offered_rate", "offered (/s)", f_rate),
            ("acked_rate", "acknowledged (/s)", f_rate),
            ("acked", "acknowledged", f_int),
            ("errors", "errors", f_int),
            ("p50_ms", "p50 (ms)", f_ms),
            ("p90_ms", "p90 (ms)", f_ms),
            ("p99_ms", "p99 (ms)", f_ms),
            ("max_ms", "max (ms)", f_ms),
            ("rate_met", "rate target met", f_text),
            ("p99_met", "p99 target met", f_text),
        ],
    )
    for ingest in (inputs["ingest"], inputs["ingest_relay"]):
        if not ingest:
            continue
        lat = ingest.get("latency_ms") or {}
        subs = ingest.get("submissions") or {}
        targets = ingest.get("targets") or {}
        setup = ingest.get("setup") or {}
        per_request = setup.get("per_request") or 1
        table.add(
            mode=(
                "one per request"
                if per_request == 1
                else f"{per_request} per request (relay, POST /v1/contributions/batch)"
            ),
            per_request=per_request,
            offered_rate=ingest.get("offered_rate"),
            acked_rate=ingest.get("acked_rate"),
            acked=subs.get("acked"),
            errors=subs.get("errors"),
            p50_ms=lat.get("p50"),
            p90_ms=lat.get("p90"),
            p99_ms=lat.get("p99"),
            max_ms=lat.get("max"),
            mean_ms=lat.get("mean"),
            rate_met=targets.get("rate_met"),
            p99_met=targets.get("p99_met"),
            target_rate_per_s=targets.get("rate_per_s"),
            target_p99_ms=targets.get("p99_ms"),
            keys=setup.get("keys"),
            connections=setup.get("connections"),
            duration_s=setup.get("duration_s"),
            max_batch_size=setup.get("max_batch_size"),
            window_s=ingest.get("window_s"),
        )
    return table


def crash_table(inputs):
    table = Table(
        "crash",
        "Sequencer recovery after SIGKILL",
        [
            ("rate", "offered (/s)", f_rate),
            ("acknowledged", "acknowledged before the kill", f_int),
            ("recovery_s", "recovery (s)", f_s),
            ("recovery_from_kill_s", "from the kill (s)", f_s),
            ("checked", "acknowledged looked up", f_int),
            ("lost", "lost", f_int),
            ("nonce_regressions", "nonce regressions", f_int),
        ],
    )
    crash = inputs["crash"]
    if crash:
        table.add(**{k: crash.get(k) for k, _, _ in table.columns}, target_recovery_s=crash.get("target_recovery_s"))
    return table


# ---------------------------------------------------------------------------------------------
# Plots


def plots(out_dir, comp, prover, gas):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return [], "matplotlib is not installed (bench/scripts/report.sh installs it into its venv)"

    made = []
    series_time, series_rate = [], []
    for backend in sorted({r["backend"] for r in comp.rows}):
        rows = [r for r in comp.rows if r["backend"] == backend and num(r["merit_prove_s"])]
        if rows:
            xs = [r["batch_size"] for r in rows]
            series_time.append((f"Merit ({backend}, this run)", xs, [r["merit_prove_s"] for r in rows], "o-", None))
            series_rate.append(
                (f"Merit ({backend}, this run)", xs, [r["merit_contributions_per_s"] for r in rows], "o-", None)
            )
    seen = set()
    rows = []
    for r in comp.rows:
        if r["batch_size"] not in seen and num(r["ezkl_prove_s"]):
            seen.add(r["batch_size"])
            rows.append(r)
    if rows:
        xs = [r["batch_size"] for r in rows]
        series_time.append(("EZKL (this run)", xs, [r["ezkl_prove_s"] for r in rows], "s-", None))
        series_rate.append(("EZKL (this run)", xs, [r["ezkl_contributions_per_s"] for r in rows], "s-", None))
    for table in prover:
        if table.reference is None:
            continue
        rows = [r for r in table.rows if num(r["prove_s"])]
        if rows:
            label = f"Merit ({table.backend}, {table.reference}, other host)"
            xs = [r["contributions"] for r in rows]
            series_time.append((label, xs, [r["prove_s"] for r in rows], "^--", 0.6))
            series_rate.append((label, xs, [r["contributions_per_s"] for r in rows], "^--", 0.6))

    def line_plot(name, title, ylabel, series, annotate=None):
        if not series:
            return
        fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=110)
        for label, xs, ys, style, alpha in series:
            ax.plot(xs, ys, style, label=label, alpha=alpha or 1.0)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ticks = sorted({x for _, xs, _, _, _ in series for x in xs})
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.set_xlabel("batch size (contributions per proof)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        if annotate:
            annotate(ax)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, name))
        plt.close(fig)
        made.append(name)

    def ratio_labels(ax):
        for r in comp.rows:
            if num(r["throughput_ratio"]) and num(r["merit_contributions_per_s"]):
                ax.annotate(
                    f"{r['throughput_ratio']:.1f}×",
                    (r["batch_size"], r["merit_contributions_per_s"]),
                    textcoords="offset points",
                    xytext=(0, 8),
                    ha="center",
                    fontsize=8,
                )

    line_plot("prove_time_vs_batch.png", "Proving time per batch (lower is better)", "seconds per proof", series_time)
    line_plot(
        "throughput_vs_batch.png",
        "Contributions proven per second (higher is better; labels: Merit ÷ EZKL)",
        "contributions / s",
        series_rate,
        ratio_labels,
    )

    bars = [r for r in gas.rows if num(r.get("gas"))]
    if bars:
        fig, ax = plt.subplots(figsize=(10, 0.36 * len(bars) + 1.4), dpi=110)
        labels = [r.get("label") or r["call"] for r in bars]
        colors = {"verify": "tab:red", "submitBatch": "tab:blue", "claim": "tab:green"}
        ax.barh(range(len(bars)), [r["gas"] for r in bars], color=[colors.get(r.get("kind"), "tab:gray") for r in bars])
        ax.set_yticks(range(len(bars)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        for i, r in enumerate(bars):
            ax.annotate(f"{int(round(r['gas'])):,}", (r["gas"], i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
        ax.set_xlim(0, max(r["gas"] for r in bars) * 1.15)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{int(x):,}"))
        ax.set_xlabel("gas (forge: execution gas of the call; demo: gas used by the transaction)")
        ax.set_title("L1 gas: verification, submitBatch, claim", fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "gas.png"))
        plt.close(fig)
        made.append("gas.png")
    return made, None


# ---------------------------------------------------------------------------------------------
# The report


def fallback_meta(inputs):
    meta = {"kind": "merit-bench-meta", "machine": {}}
    ezkl = inputs["ezkl"] or {}
    machine = ezkl.get("machine") or {}
    bench = next((e["report"] for e in inputs["bench"] if not e["reference"]), None)
    meta["machine"] = {
        "cpu_model": machine.get("cpu_model") or ((bench or {}).get("host") or {}).get("cpu"),
        "cores": machine.get("cores") or ((bench or {}).get("host") or {}).get("threads"),
        "mem_bytes": machine.get("mem_bytes"),
        "os": machine.get("os"),
    }
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        meta["commit"] = subprocess.run(
            ["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        meta["commit"] = None
    meta["date_utc"] = ezkl.get("finished") or ezkl.get("started")
    meta["note"] = "no meta.json: machine and date taken from the measurements, commit from this checkout"
    return meta


def best_against_best(comp):
    """Each tool's highest contributions/s over the batch sizes of this run, per Merit backend
    with the best one kept: the throughput an operator gets from either tool at its best size."""
    ezkl = [(r["ezkl_contributions_per_s"], r["batch_size"]) for r in comp.rows if num(r["ezkl_contributions_per_s"])]
    merit = [
        (r["merit_contributions_per_s"], r["batch_size"], r["backend"])
        for r in comp.rows
        if num(r["merit_contributions_per_s"])
    ]
    if not ezkl or not merit:
        return None
    theirs, their_batch = max(ezkl)
    ours, our_batch, backend = max(merit)
    if theirs <= 0:
        return None
    return dict(
        merit=ours, merit_batch=our_batch, backend=backend, ezkl=theirs, ezkl_batch=their_batch, ratio=ours / theirs
    )


def summary_lines(comp, cells, score, gas, ingest, meta):
    lines = []
    met = [r["batch_size"] for r in comp.rows if r["target_met"] is True]
    missed = [r["batch_size"] for r in comp.rows if r["target_met"] is False]
    unmeasured = sorted({r["batch_size"] for r in comp.rows if r["target_met"] is None})
    parts = []
    if met:
        parts.append("**met** at batch size " + ", ".join(map(str, met)))
    if missed:
        parts.append("**not met** at " + ", ".join(map(str, missed)))
    if unmeasured:
        parts.append(f"{NOT_MEASURED} at " + ", ".join(map(str, unmeasured)))
    lines.append(
        f"- Target — Merit proves ≥ {TARGET_RATIO:g}× EZKL's contributions per second on the same machine "
        f"and model: " + ("; ".join(parts) if parts else NOT_MEASURED) + "."
    )
    best = best_against_best(comp)
    if best:
        lines.append(
            f"- Best against best (each tool at its fastest batch size in this run): Merit "
            f"{f_rate(best['merit'])} contributions/s at batch {best['merit_batch']} ({best['backend']}) vs "
            f"EZKL {f_rate(best['ezkl'])}/s at batch {best['ezkl_batch']}: {f_ratio(best['ratio'])}."
        )
    for r in comp.rows:
        if num(r["throughput_ratio"]):
            lines.append(
                f"- Batch {r['batch_size']} ({r['backend']}): Merit {f_rate(r['merit_contributions_per_s'])} "
                f"contributions/s ({f_s(r['merit_prove_s'])} s per proof) vs EZKL "
                f"{f_rate(r['ezkl_contributions_per_s'])}/s ({f_s(r['ezkl_prove_s'])} s): "
                f"{f_ratio(r['throughput_ratio'])}."
            )
    if cells.rows:
        lines.append(
            "- Advice cells per contribution: "
            + ", ".join(f"{r['config']} {f_int(r['advice_cells_per_contribution'])}" for r in cells.rows)
            + " (the whole batch: scoring, rewards, account tree)."
        )
    verify = [r for r in gas.rows if r.get("kind") == "verify"]
    if verify:
        lines.append(
            "- L1 verification gas: " + ", ".join(f"{r['call'].split(':')[0]} {f_int(r['gas'])}" for r in verify) + "."
        )
    for r in ingest.rows:
        lines.append(
            f"- Sequencer ({r['mode']}): {f_rate(r['acked_rate'])} contributions/s acknowledged of "
            f"{f_rate(r['offered_rate'])} offered, p99 {f_ms(r['p99_ms'])} ms."
        )
    return lines


def stage_note(meta, name):
    """Why a measurement is missing, from the stages of the run."""
    for s in meta.get("stages") or []:
        if s["name"] == name:
            if s["status"] == "failed":
                return f"failed ({s.get('note') or 'error'}; see {s.get('log')})"
            return s["status"]
    return NOT_MEASURED


def stage_status(meta, name):
    for s in meta.get("stages") or []:
        if s["name"] == name or s["name"].startswith(name + "-"):
            return s["status"]
    return None


def render(inputs, sizes, made, plot_note, tables, meta):
    comp, ezkl, prover, cells, score, gas, ingest, crash = tables
    machine = meta.get("machine") or {}
    mem = machine.get("mem_bytes")
    commit = meta.get("commit") or "unknown"
    if meta.get("dirty"):
        commit += " (with uncommitted changes)"
    out = []
    w = out.append
    w("# Merit benchmark report")
    w("")
    w(f"- Date: {meta.get('date_utc') or 'unknown'}" + (f" (started {meta['started_utc']})" if meta.get("started_utc") else ""))
    w(f"- Commit: `{commit}`")
    w(
        f"- Machine: {machine.get('cpu_model') or 'unknown CPU'}, {machine.get('cores') or '?'} cores, "
        f"{f_gib(mem) + ' GiB' if num(mem) else 'unknown'} RAM"
        + (f", {machine['os']}" if machine.get("os") else "")
    )
    if num(meta.get("loadavg_start")) or num(meta.get("loadavg_end")):
        w(
            f"- Load average (1 min) at start / end: {meta.get('loadavg_start', '?')} / "
            f"{round(meta['loadavg_end'], 2) if num(meta.get('loadavg_end')) else '?'}"
        )
    if meta.get("command"):
        w(f"- Command: `{meta['command']}`")
    if meta.get("note"):
        w(f"- {meta['note']}")
    w("")
    w("## Summary")
    w("")
    out.extend(summary_lines(comp, cells, score, gas, ingest, meta))
    w("")

    w("## Merit vs EZKL")
    w("")
    w(
        "The same 16→32→1 MLP (ReLU, sigmoid), the same machine. Merit: `merit-prover bench` (CPU "
        "build) on the configuration `n<B>` — one proof covers scoring, rewards and the account-tree "
        "updates of B contributions; time = witness generation + `create_proof`, best of the "
        "repeats. EZKL: `ezkl.prove` of B inferences (its witness is generated before and not "
        "counted). Ratios: Merit's contributions per second ÷ EZKL's, and Merit's time per proof ÷ "
        "EZKL's."
    )
    if meta.get("ezkl_source") and meta["ezkl_source"] != "this run":
        w("")
        started = (inputs["ezkl"] or {}).get("started")
        w(f"**EZKL's numbers were not measured in this run**: {meta['ezkl_source']}" + (f" (EZKL run started {started})." if started else "."))
    w("")
    w(comp.markdown())
    w("")
    for name, alt in (("prove_time_vs_batch.png", "prove time vs batch size"), ("throughput_vs_batch.png", "throughput vs batch size")):
        if name in made:
            w(f"![{alt}]({name})")
    if plot_note:
        w(f"Plots: {plot_note}.")
    w("")
    w("### EZKL per batch size")
    w("")
    if ezkl.rows:
        e = inputs["ezkl"]
        w(
            f"EZKL {e.get('version', '?')} (Python {e.get('python', '?')}), calibrate target "
            f"`{e.get('calibrate_target', '?')}`, visibility {json.dumps(e.get('visibility') or {})}; "
            f"SRS {e.get('srs', '?')}."
        )
        w("")
        w(ezkl.markdown())
    else:
        w(f"EZKL: {NOT_MEASURED}" + (f" (stage {stage_status(meta, 'ezkl')})" if stage_status(meta, "ezkl") else "") + ".")
    w("")

    w("## Merit prover by backend")
    w("")
    if prover:
        for table in prover:
            w(f"### {table.title}")
            w("")
            w(table.markdown())
            w("")
    else:
        w(f"{NOT_MEASURED}.")
        w("")

    w("## Advice cells per contribution")
    w("")
    if cells.rows:
        w(
            "Every advice cell the witness fills (flex gate, Poseidon gate, cells copied into lookup "
            "and table columns), for the configuration's full sample batch (every slot real, M = N/4 "
            "new contributors, depth-24 tree), divided by N."
        )
        w("")
        w(cells.markdown())
        per_inf = [r for r in ezkl.rows if num(r.get("assignments_per_inference"))]
        if per_inf:
            w("")
            w(
                "EZKL, for comparison (inference only): "
                + ", ".join(f"batch {r['batch_size']}: {f_int(r['assignments_per_inference'])} assignments per inference" for r in per_inf)
                + " (`total_assignments` of its settings ÷ B)."
            )
    else:
        w(f"{NOT_MEASURED}.")
    w("")

    w("## Score error against the float model")
    w("")
    w(
        "Absolute error of the proven score against the float model on the same inputs, in score "
        "units (the sigmoid output, range [0, 1]). Merit: `merit model import "
        "fixtures/onnx/mlp_16_32_1.onnx --calibration fixtures/onnx/mlp_16_32_1.calibration.json "
        "--json` — the quantized model the circuit evaluates bit for bit (merit-core), against the "
        "ONNX graph in float. EZKL: its dequantized outputs (witness) against the float model on "
        "the batch's inputs (the calibration samples, cycled)."
    )
    w("")
    w(score.markdown())
    w("")

    w("## L1 gas")
    w("")
    if gas.rows:
        w(
            "`bash verifier-contracts/scripts/gas.sh` (forge, EVM Prague: execution gas of the call, "
            "accounts and slots cold; rows marked mock verifier leave out the proof verification) and, "
            "where present, `merit demo --summary-json` on a local anvil chain (real verifier and "
            "proofs; gas used by the transactions). Gas per contribution: the row ÷ the "
            "configuration's N."
        )
        w("")
        w(gas.markdown())
        if "gas.png" in made:
            w("")
            w("![gas](gas.png)")
    else:
        w(f"{NOT_MEASURED}" + (f" (stage {stage_status(meta, 'gas')})" if stage_status(meta, "gas") else "") + ".")
    w("")

    w("## Sequencer ingestion")
    w("")
    if ingest.rows:
        r = ingest.rows[0]
        w(
            f"`bench/scripts/ingest.sh`: open-loop load from {f_int(r.get('keys'))} keys over "
            f"{f_int(r.get('connections'))} connections for {f_s(r.get('duration_s'))} s against a node "
            f"on RocksDB, load generator on the same cores; latency from the scheduled send time to "
            f"the acknowledgement (202, durable). Targets: ≥ {f_rate(r.get('target_rate_per_s'))}/s, "
            f"p99 ≤ {f_ms(r.get('target_p99_ms'))} ms. A relay row sends each connection's contributions "
            f"several at a time to `POST /v1/contributions/batch` (each checked, stored and answered on "
            f"its own), with latency from each request's due time: the time a relay takes to collect "
            f"a request is its own and not counted."
        )
        w("")
        w(ingest.markdown())
    else:
        w(f"{NOT_MEASURED}" + (f" (stage {stage_status(meta, 'ingest')})" if stage_status(meta, "ingest") else "") + ".")
    if crash.rows:
        w("")
        w(crash.markdown())
    if meta.get("ingest_source") and meta["ingest_source"] != "this run" and ingest.rows:
        w("")
        w(f"Ingestion numbers not measured in this run: {meta['ingest_source']}.")
    w("")

    w("## How to reproduce")
    w("")
    w("```sh")
    w(meta.get("command") or "bash bench/scripts/report.sh --sizes " + ",".join(map(str, sizes)))
    w("```")
    w("")
    w(
        "It builds `merit-prover` and `merit` in release, runs each measurement into "
        "`bench/results/<UTC date>-<host tag>/` (raw JSON kept there), assembles this report "
        "(`bench/report/make_report.py --in DIR --out DIR`) and copies the directory to "
        "`bench/results/latest/`. EZKL is installed from PyPI into "
        "`~/.cache/merit/ezkl-venv` (pins: `bench/peers/ezkl/requirements.txt`), matplotlib into "
        "`~/.cache/merit/bench-venv` (pins: `bench/report/requirements.txt`). "
        "`--skip-ezkl`, `--skip-ingest`, `--skip-gas`, `--skip-demo` leave stages out (a skipped "
        "EZKL or ingestion stage reuses `bench/results/latest/{ezkl,ingest}.json` when present)."
    )
    w("")

    w("## Notes")
    w("")
    w("- Development SRS on both sides: Merit's deterministic `--dev-srs`, EZKL's `gen_srs` generated locally. Neither is secure; proving time does not depend on where the SRS came from.")
    w("- The circuits do not do the same work. Merit's proof covers, per batch, the model's scores, the reward policy and every touched account's Poseidon-tree update (depth 24, M = N/4 accounts) plus the model commitment; EZKL's proves only the B inferences. The comparison is what a reward rollup needs proven per contribution, not inference alone.")
    w("- Merit proves the configuration's sample model (`circuits/configs/model-16-32-1.json`) and EZKL the ONNX fixture `fixtures/onnx/mlp_16_32_1.onnx`: the same architecture with different weights. Merit's circuit cost depends on the shape, not on the weights; its score error is measured on the ONNX fixture after `merit model import`.")
    w("- Merit's time is the best of the repeated proofs of one process (the first pays one-off costs); EZKL's is one `prove` call per batch size in a fresh subprocess. Both use every core of the machine.")
    w("- EZKL picks its own settings (`calibrate_settings`), so its logrows, and therefore its time, barely change at small batch sizes; see its table for what it chose.")
    if meta.get("loadavg_start") and num(meta.get("loadavg_start")) and machine.get("cores") and meta["loadavg_start"] > 0.5 * machine["cores"]:
        w(f"- The machine was busy when the run started (load {meta['loadavg_start']} on {machine['cores']} cores): absolute times are pessimistic; the ratios compare runs under the same conditions only as far as the load stayed the same.")
    w("")

    stages = meta.get("stages") or []
    if stages:
        w("## Stages of this run")
        w("")
        w("| stage | status | seconds | log |")
        w("|---|---|---|---|")
        for s in stages:
            w(f"| {s['name']} | {s['status']}{' — ' + f_text(s['note']) if s.get('note') else ''} | {f_na(f_s)(s.get('seconds'))} | {s.get('log') or '—'} |")
        w("")
    w("## Raw files")
    w("")
    for f in inputs["files"]:
        w(f"- `{f['path']}` ({f['kind']})")
    w("")
    return "\n".join(out)


def build(in_dir, out_dir, make_plots=True):
    inputs = load_inputs(in_dir)
    meta = inputs["meta"] or fallback_meta(inputs)
    sizes = list(meta.get("sizes") or [])
    if not sizes:
        sizes = sorted(
            {e["report"]["contributions"] for e in inputs["bench"] if not e["reference"]} | set(ezkl_runs(inputs))
        )
    comp = comparison(inputs, sizes, meta)
    ezkl = ezkl_details(inputs)
    prover = prover_tables(inputs)
    cells = cells_table(inputs)
    score = score_table(inputs)
    gas = gas_table(inputs)
    ingest = ingest_table(inputs)
    crash = crash_table(inputs)
    os.makedirs(out_dir, exist_ok=True)
    made, note = ([], "not made (--no-plots)")
    if make_plots:
        made, note = plots(out_dir, comp, prover, gas)
    tables = (comp, ezkl, prover, cells, score, gas, ingest, crash)
    markdown = render(inputs, sizes, made, note, tables, meta)
    report = {
        "format": "merit-bench-report/1",
        "meta": meta,
        "sizes": sizes,
        "target_ratio": TARGET_RATIO,
        "best_against_best": best_against_best(comp),
        "tables": {t.key: t.json() for t in [comp, ezkl, *prover, cells, score, gas, ingest, crash]},
        "plots": made,
        "files": inputs["files"],
        "ezkl": {k: v for k, v in (inputs["ezkl"] or {}).items() if k != "runs"} or None,
    }
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(markdown)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=2, default=str)
        f.write("\n")
    return report, markdown


def main(argv=None):
    p = argparse.ArgumentParser(description="Assemble Merit's benchmark report (report.md, report.json, PNG plots).")
    p.add_argument("--in", dest="in_dir", required=True, help="directory of the raw measurements")
    p.add_argument("--out", dest="out_dir", required=True, help="where to write the report")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots (no matplotlib needed)")
    args = p.parse_args(argv)
    if not os.path.isdir(args.in_dir):
        p.error(f"{args.in_dir} is not a directory")
    report, _ = build(args.in_dir, args.out_dir, not args.no_plots)
    comp = report["tables"]["comparison"]["rows"]
    for r in comp:
        print(
            f"batch {r['batch_size']:>5} {r['backend']:>4}: Merit {f_s(r['merit_prove_s']):>12} s "
            f"{f_rate(r['merit_contributions_per_s']):>12}/s | EZKL {f_s(r['ezkl_prove_s']):>12} s "
            f"{f_rate(r['ezkl_contributions_per_s']):>12}/s | ratio {f_ratio(r['throughput_ratio'])}"
        )
    print(f"wrote {os.path.join(args.out_dir, 'report.md')}, report.json" + "".join(f", {p}" for p in report["plots"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
