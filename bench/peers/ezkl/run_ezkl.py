#!/usr/bin/env python3
"""EZKL peer benchmark: prove the Merit quality model (an ONNX MLP) with EZKL at several batch sizes.

Usage (normally through bench/scripts/ezkl.sh, which makes the virtual environment):

    python run_ezkl.py --onnx fixtures/onnx/mlp_16_32_1.onnx \
        --calibration fixtures/onnx/mlp_16_32_1.calibration.json \
        --batch-sizes 16,64,256 --workdir ~/.cache/merit/ezkl-work --out results.json \
        [--timeout-per-size 3600] [--max-rss-gib 20] [--calibrate-target resources|accuracy|none]
        [--keep-artifacts]

For each batch size B, in its own subprocess (so that time, memory and crashes are per size):
  1. an ONNX graph with a fixed [B, 16] input and [B, 1] output (the fixture's dynamic batch
     dimension set to B; the committed fixture is not touched), and input.json with B calibration
     samples (cycled when B exceeds their number);
  2. ezkl.gen_settings with input visibility private, params fixed, output public (the analogue
     of Merit's circuit: features private, model weights in the circuit, scores public);
  3. ezkl.calibrate_settings on the same B inputs (target "resources" by default: EZKL picks the
     scales and logrows; what it picked is recorded in "settings");
  4. ezkl.compile_circuit; 5. ezkl.gen_srs for the settings' logrows, generated locally — an
     insecure SRS (its toxic waste is known), fine for timing, never for production;
  6. ezkl.gen_witness; 7. ezkl.setup (keygen); 8. ezkl.prove; 9. ezkl.verify.
Every phase is timed (wall seconds). The score error compares EZKL's dequantized outputs (from
the witness) with the float model evaluated in numpy from the ONNX initializers on the same
inputs. A size that fails, runs past --timeout-per-size or past --max-rss-gib is recorded as
{"batch_size": B, "status": "failed", "reason": ..., ...what it got through...} and the run
continues with the next size. The JSON is rewritten after every size.

Output JSON schema:
{
  "tool": "ezkl",
  "version": "23.0.5",                     # the installed ezkl package
  "python": "3.11.7", "onnx_version": ..., "numpy_version": ...,
  "model": "fixtures/onnx/mlp_16_32_1.onnx" (as given), "model_sha256": ...,
  "machine": {"cpu_model": str, "cores": int, "mem_bytes": int, "os": str},
  "srs": "generated locally (insecure, timing only)",
  "calibrate_target": "resources",
  "runs": [
    {"batch_size": 16, "status": "ok",
     "logrows": 15,
     "settings": {"input_visibility": "Private", "output_visibility": "Public",
                  "param_visibility": "Fixed", "input_scale": 12, "param_scale": 12, ...
                  (the run_args of EZKL's settings.json, plus num_rows, total_assignments,
                   model_input_scales, model_output_scales, required_lookups,
                   required_range_checks)},
     "times_s": {"gen_settings": s, "calibrate": s, "compile": s, "srs": s, "witness": s,
                 "setup": s, "prove": s, "verify": s},
     "proof_bytes": int,                   # the raw proof ("proof" of proof.json), not the JSON
     "proof_file_bytes": int, "pk_bytes": int, "vk_bytes": int, "srs_bytes": int,
     "peak_rss_bytes": int,                # ru_maxrss of the per-size subprocess (all phases)
     "peak_rss_by_phase_bytes": {"setup": int, "prove": int, ...},  # VmHWM, reset per phase
     "cpu_s": {"setup": s, "prove": s, ...},  # user + system CPU seconds of each phase
     "loadavg_at_start": float,            # 1-minute load average when the size started;
                                           # cpu_s / times_s near the core count = no contention
     "score_error": {"max_abs": float, "mean_abs": float, "count": B},
     "contributions_per_s": B / times_s.prove,
     "verified": true,
     "wall_s": total seconds of the subprocess},
    {"batch_size": 256, "status": "failed", "reason": "...", "times_s": {...phases done...}, ...}
  ]
}
"""

import argparse
import asyncio
import hashlib
import importlib.metadata
import inspect
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import time

SRS_NOTE = "generated locally (insecure, timing only)"


# ---------------------------------------------------------------------------------------------
# The float model and the inputs


def load_samples(path):
    with open(path) as f:
        samples = json.load(f)["samples"]
    if not samples:
        raise SystemExit(f"{path}: no samples")
    return samples


def batch_inputs(samples, batch_size):
    return [list(map(float, samples[i % len(samples)])) for i in range(batch_size)]


def float_model(onnx_path, inputs):
    """Evaluates the ONNX MLP (Gemm / MatMul / Add / Relu / Sigmoid / Identity) in float64."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(onnx_path)
    values = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    values[model.graph.input[0].name] = np.asarray(inputs, dtype=np.float64)
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        args = [values[name] for name in node.input if name]
        if node.op_type == "Gemm":
            a, b = args[0], args[1]
            if attrs.get("transA", 0):
                a = a.T
            if attrs.get("transB", 0):
                b = b.T
            out = attrs.get("alpha", 1.0) * (a @ b)
            if len(args) > 2:
                out = out + attrs.get("beta", 1.0) * args[2]
        elif node.op_type == "MatMul":
            out = args[0] @ args[1]
        elif node.op_type == "Add":
            out = args[0] + args[1]
        elif node.op_type == "Relu":
            out = np.maximum(args[0], 0.0)
        elif node.op_type == "Sigmoid":
            out = 1.0 / (1.0 + np.exp(-args[0]))
        elif node.op_type == "Identity":
            out = args[0]
        else:
            raise ValueError(f"float model: unsupported op {node.op_type}")
        values[node.output[0]] = out
    return values[model.graph.output[0].name].reshape(-1)


def fixed_batch_onnx(src, dst, batch_size):
    """Copies the ONNX graph with its first (batch) dimension of inputs and outputs set to B."""
    import onnx

    model = onnx.load(src)
    for value in list(model.graph.input) + list(model.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_param")
        dim.dim_value = batch_size
    del model.graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    return [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]


# ---------------------------------------------------------------------------------------------
# Per-size child: runs every phase and writes result.json after each one


def read_status(field, pid="self"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Resets VmHWM (Linux >= 4.0) so the next reading is the peak of the next phase alone."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def resolve(value):
    """EZKL's Python functions are synchronous or return awaitables depending on the release."""
    if inspect.isawaitable(value):
        return asyncio.run(_await(value))
    return value


async def _await(value):
    return await value


def settings_summary(settings):
    keep = [
        "num_rows",
        "total_assignments",
        "total_const_size",
        "model_input_scales",
        "model_output_scales",
        "model_instance_shapes",
        "required_lookups",
        "required_range_checks",
        "check_mode",
    ]
    summary = dict(settings.get("run_args", {}))
    for key in keep:
        if key in settings:
            summary[key] = settings[key]
    return summary


def child(args):
    import ezkl
    import numpy as np

    batch_size = args.batch_size
    d = args.size_dir
    result = {
        "batch_size": batch_size,
        "status": "running",
        "phase": None,
        "times_s": {},
        "cpu_s": {},
        "peak_rss_by_phase_bytes": {},
        "loadavg_at_start": os.getloadavg()[0],
    }
    out_path = os.path.join(d, "result.json")

    def save():
        tmp = out_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=1)
        os.replace(tmp, out_path)

    can_reset = reset_peak_rss()

    def phase(name, fn):
        result["phase"] = name
        save()
        if can_reset:
            reset_peak_rss()
        print(f"[ezkl b={batch_size}] {name} ...", flush=True)
        t0 = time.perf_counter()
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        value = resolve(fn())
        elapsed = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        result["times_s"][name] = round(elapsed, 4)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        result["cpu_s"][name] = round(cpu, 3)
        result["peak_rss_by_phase_bytes"][name] = read_status("VmHWM")
        print(f"[ezkl b={batch_size}] {name}: {elapsed:.3f} s", flush=True)
        save()
        return value

    p = lambda name: os.path.join(d, name)  # noqa: E731
    inputs = batch_inputs(load_samples(args.calibration), batch_size)
    shape = fixed_batch_onnx(args.onnx, p("network.onnx"), batch_size)
    result["onnx_input_shape"] = shape
    with open(p("input.json"), "w") as f:
        json.dump({"input_data": [[x for row in inputs for x in row]]}, f)

    run_args = ezkl.PyRunArgs()
    run_args.input_visibility = "private"
    run_args.output_visibility = "public"
    run_args.param_visibility = "fixed"
    ok = phase("gen_settings", lambda: ezkl.gen_settings(p("network.onnx"), p("settings.json"), py_run_args=run_args))
    if ok is False:
        raise RuntimeError("gen_settings returned False")
    if args.calibrate_target != "none":
        ok = phase(
            "calibrate",
            lambda: ezkl.calibrate_settings(
                p("input.json"), p("network.onnx"), p("settings.json"), args.calibrate_target
            ),
        )
        if ok is False:
            raise RuntimeError("calibrate_settings returned False")
    with open(p("settings.json")) as f:
        settings = json.load(f)
    logrows = int(settings["run_args"]["logrows"])
    result["logrows"] = logrows
    result["settings"] = settings_summary(settings)
    save()

    ok = phase("compile", lambda: ezkl.compile_circuit(p("network.onnx"), p("network.ezkl"), p("settings.json")))
    if ok is False:
        raise RuntimeError("compile_circuit returned False")
    phase("srs", lambda: ezkl.gen_srs(p("kzg.srs"), logrows))
    witness = phase("witness", lambda: ezkl.gen_witness(p("input.json"), p("network.ezkl"), p("witness.json")))
    ok = phase("setup", lambda: ezkl.setup(p("network.ezkl"), p("vk.key"), p("pk.key"), srs_path=p("kzg.srs")))
    if ok is False:
        raise RuntimeError("setup returned False")
    phase("prove", lambda: ezkl.prove(p("witness.json"), p("network.ezkl"), p("pk.key"), p("proof.json"), srs_path=p("kzg.srs")))
    verified = phase("verify", lambda: ezkl.verify(p("proof.json"), p("settings.json"), p("vk.key"), srs_path=p("kzg.srs")))
    result["verified"] = bool(verified)
    if not verified:
        raise RuntimeError("ezkl.verify rejected the proof")

    with open(p("proof.json")) as f:
        proof = json.load(f)
    result["proof_bytes"] = len(proof["proof"])
    for key, name in [("proof_file_bytes", "proof.json"), ("pk_bytes", "pk.key"), ("vk_bytes", "vk.key"), ("srs_bytes", "kzg.srs")]:
        result[key] = os.path.getsize(p(name))

    # Score error: EZKL's dequantized outputs against the float model on the same inputs.
    if not isinstance(witness, dict):
        with open(p("witness.json")) as f:
            witness = json.load(f)
    out_scale = int(settings["model_output_scales"][0])
    felts = witness["outputs"][0]
    proved = np.array([ezkl.felt_to_float(felt, out_scale) for felt in felts], dtype=np.float64)
    reference = float_model(args.onnx, inputs)
    if proved.shape != reference.shape:
        raise RuntimeError(f"output shape {proved.shape} != float model {reference.shape}")
    err = np.abs(proved - reference)
    result["score_error"] = {
        "max_abs": float(err.max()),
        "mean_abs": float(err.mean()),
        "count": int(err.size),
        "output_scale": out_scale,
    }
    result["contributions_per_s"] = batch_size / result["times_s"]["prove"]
    result["status"] = "ok"
    result["phase"] = None
    save()

    if not args.keep_artifacts:
        for name in ["pk.key", "kzg.srs"]:
            try:
                os.remove(p(name))
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Parent: one subprocess per batch size, watched for time and memory


def machine_info():
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "mem_bytes": read_meminfo("MemTotal"),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
    }


def read_meminfo(field):
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def log_tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).strip()
    except OSError:
        return ""


def run_size(args, batch_size):
    size_dir = os.path.join(args.workdir, f"b{batch_size}")
    shutil.rmtree(size_dir, ignore_errors=True)
    os.makedirs(size_dir)
    log_path = os.path.join(size_dir, "log.txt")
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        "--batch-size", str(batch_size),
        "--size-dir", size_dir,
        "--onnx", args.onnx,
        "--calibration", args.calibration,
        "--calibrate-target", args.calibrate_target,
    ]
    if args.keep_artifacts:
        cmd.append("--keep-artifacts")
    max_rss = int(args.max_rss_gib * 2**30)
    print(f"== batch size {batch_size}: workdir {size_dir} (log: {log_path})", flush=True)
    start = time.monotonic()
    reason = None
    observed_rss = 0
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = read_status("VmRSS", proc.pid) or 0
            observed_rss = max(observed_rss, rss)
            elapsed = time.monotonic() - start
            if reason is None and elapsed > args.timeout_per_size:
                reason = f"timed out after {args.timeout_per_size:.0f} s"
            if reason is None and rss > max_rss:
                reason = f"exceeded the memory limit: RSS {rss / 2**30:.2f} GiB > {args.max_rss_gib} GiB"
            if reason is not None:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.25)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start

    record = {"batch_size": batch_size}
    try:
        with open(os.path.join(size_dir, "result.json")) as f:
            record.update(json.load(f))
    except (OSError, ValueError):
        pass
    record["peak_rss_bytes"] = max(rusage.ru_maxrss * 1024, observed_rss)
    record["wall_s"] = round(wall, 3)
    if reason is None and (proc.returncode != 0 or record.get("status") != "ok"):
        if proc.returncode < 0:
            reason = f"killed by signal {-proc.returncode}"
            if -proc.returncode == signal.SIGKILL:
                reason += " (out of memory?)"
        else:
            reason = f"exit status {proc.returncode}"
        tail = log_tail(log_path)
        if tail:
            reason += ": " + tail.splitlines()[-1][:500]
    if reason is not None:
        record["status"] = "failed"
        record["reason"] = reason
        record["failed_phase"] = record.get("phase")
        record["log_tail"] = log_tail(log_path, 30)
        print(f"== batch size {batch_size}: FAILED in phase {record.get('phase')}: {reason}", flush=True)
    else:
        t = record["times_s"]
        print(
            f"== batch size {batch_size}: ok, logrows {record['logrows']}, setup {t['setup']:.2f} s, "
            f"prove {t['prove']:.2f} s, verify {t['verify']:.3f} s, proof {record['proof_bytes']} B, "
            f"peak RSS {record['peak_rss_bytes'] / 2**30:.2f} GiB, "
            f"max |err| {record['score_error']['max_abs']:.2e}",
            flush=True,
        )
    record.pop("phase", None)
    return record


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx", required=True)
    parser.add_argument("--calibration", required=True)
    parser.add_argument("--batch-sizes", default="16,64,256")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--timeout-per-size", type=float, default=3600.0, help="seconds (default 3600)")
    mem = read_meminfo("MemTotal") or 16 * 2**30
    parser.add_argument(
        "--max-rss-gib", type=float, default=round(0.9 * mem / 2**30, 1),
        help="kill a size whose prover exceeds this RSS (default: 90%% of MemTotal)",
    )
    parser.add_argument("--calibrate-target", default="resources", choices=["resources", "accuracy", "none"])
    parser.add_argument("--keep-artifacts", action="store_true", help="keep pk.key and kzg.srs")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.onnx = os.path.abspath(args.onnx)
    args.calibration = os.path.abspath(args.calibration)

    if args.child:
        child(args)
        return
    if not args.workdir or not args.out:
        parser.error("--workdir and --out are required")
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    if not sizes or any(s <= 0 for s in sizes):
        parser.error("--batch-sizes: positive integers, comma-separated")
    args.workdir = os.path.abspath(args.workdir)
    os.makedirs(args.workdir, exist_ok=True)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)

    report = {
        "tool": "ezkl",
        "version": importlib.metadata.version("ezkl"),
        "python": platform.python_version(),
        "onnx_version": importlib.metadata.version("onnx"),
        "numpy_version": importlib.metadata.version("numpy"),
        "model": os.path.relpath(args.onnx),
        "model_sha256": sha256(args.onnx),
        "machine": machine_info(),
        "srs": SRS_NOTE,
        "calibrate_target": args.calibrate_target,
        "visibility": {"input": "private", "params": "fixed", "output": "public"},
        "timeout_per_size_s": args.timeout_per_size,
        "max_rss_gib": args.max_rss_gib,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": [],
    }
    print(f"ezkl {report['version']} on {report['machine']['cpu_model']} "
          f"({report['machine']['cores']} cores); SRS {SRS_NOTE}", flush=True)

    def write():
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        os.replace(tmp, args.out)

    for batch_size in sizes:
        report["runs"].append(run_size(args, batch_size))
        write()
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write()
    print(f"wrote {args.out}", flush=True)
    failed = [r["batch_size"] for r in report["runs"] if r["status"] != "ok"]
    if failed:
        print(f"failed batch sizes: {failed}", flush=True)


if __name__ == "__main__":
    main()
