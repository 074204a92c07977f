"""Tests of the benchmark report assembler on the small fixtures of testdata/run/.

    python3 -m unittest bench/report/test_make_report.py          # plots skipped without matplotlib
    ~/.cache/merit/bench-venv/bin/python -m unittest bench/report/test_make_report.py

The fixtures are made-up numbers in the formats of the real inputs (merit-prover bench, merit
circuit stats --json, merit model import --json, run_ezkl.py, merit-loadgen, gas.sh, merit demo
--summary-json, collect_meta.py), except the n16 CPU and the H100 CUDA bench reports, which are
copies of bench/results/2026-11-22-h100/.
"""

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_report  # noqa: E402

RUN = os.path.join(HERE, "testdata", "run")
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


class Built:
    """The report of a fixture directory, built once into a temporary directory."""

    def __init__(self, in_dir, plots=False):
        self.tmp = tempfile.mkdtemp(prefix="merit-report-test-")
        self.report, self.markdown = make_report.build(in_dir, self.tmp, make_plots=plots)
        with open(os.path.join(self.tmp, "report.json")) as f:
            self.json = json.load(f)
        with open(os.path.join(self.tmp, "report.md")) as f:
            self.md = f.read()

    def rows(self, table):
        return self.json["tables"][table]["rows"]

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class FullRunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.built = Built(RUN)

    @classmethod
    def tearDownClass(cls):
        cls.built.close()

    def comparison(self, batch_size):
        (row,) = [r for r in self.built.rows("comparison") if r["batch_size"] == batch_size]
        return row

    def test_ratios_per_batch_size(self):
        r16 = self.comparison(16)
        # n16.cpu.bench.json: 5.0788... contributions/s; EZKL: 16 / 8 s = 2/s
        self.assertAlmostEqual(r16["throughput_ratio"], 5.078812078958066 / 2.0)
        self.assertAlmostEqual(r16["time_ratio"], (0.032507192 + 3.117835792) / 8.0)
        self.assertFalse(r16["target_met"])
        r64 = self.comparison(64)
        self.assertAlmostEqual(r64["throughput_ratio"], 10.0)
        self.assertAlmostEqual(r64["merit_prove_s"], 10.0)
        self.assertTrue(r64["target_met"])
        r256 = self.comparison(256)
        self.assertIsNone(r256["throughput_ratio"])
        self.assertIsNone(r256["target_met"])
        self.assertTrue(r256["ezkl_status"].startswith("failed in prove"), r256["ezkl_status"])

    def test_best_against_best(self):
        # Merit's best: n64 at 6.4/s (10 s per 64); EZKL's best: batch 16 at 2/s.
        best = self.built.json["best_against_best"]
        self.assertEqual((best["merit_batch"], best["ezkl_batch"], best["backend"]), (64, 16, "cpu"))
        self.assertAlmostEqual(best["ratio"], 6.4 / 2.0)
        self.assertIn("at batch 64 (cpu) vs EZKL 2.00/s at batch 16: 3.20×", self.built.md)

    def test_reference_runs_are_shown_but_not_compared(self):
        self.assertEqual({r["backend"] for r in self.built.rows("comparison")}, {"cpu"})
        self.assertIn("reference_h100_cuda", self.built.json["tables"])
        self.assertIn("another host, not compared", self.built.md)

    def test_markdown_tables_match_report_json(self):
        md = self.built.md
        for key, table in self.built.json["tables"].items():
            if not table["rows"]:
                continue
            header = "| " + " | ".join(c["header"] for c in table["columns"]) + " |"
            self.assertIn(header, md, key)
            start = md.index(header)
            lines = md[start:].split("\n\n", 1)[0].splitlines()
            self.assertEqual(len(lines) - 2, len(table["rows"]), key)

    def test_markdown_sections_and_numbers(self):
        md = self.built.md
        for needle in [
            "Commit: `abc1234`",
            "Test CPU, 2 cores, 24.00 GiB RAM",
            "**met** at batch size 64",
            "**not met** at 16",
            "not measured at 256",
            "| 16 | cpu | 3.15 | 8.00 | 0.39× | 5.08 | 2.00 | 2.54× | no | ok | ok |",
            "| 256 | cpu | not measured | not measured | not measured | not measured | not measured | not measured | not measured | failed (exit 1; see logs/prover-n256.log) | failed in prove: timed out after 3600 s |",
            "| gas | skipped — --skip-gas | — | — |",
            "| n64 | 17 | 64 | 16 | 9 | 2,400 | 699,792 | 10,934 |",
            "| Merit | fixed point 2^12",
            "| 0.001200 | 0.000300 | 0.120 % |",
            "n16: verification gas | 533,672 | 33,354 |",
            "| one per request | 10,000 | 9,876 | 296,295 | 0 | 2.50 | 5.00 | 12.50 | 31.00 | no | yes |",
            "| 32 per request (relay, POST /v1/contributions/batch) | 10,000 | 10,010 | 300,000 | 0 | 3.00 | 6.00 | 9.50 | 20.00 | yes | yes |",
            "- Sequencer (32 per request (relay, POST /v1/contributions/batch)): 10,010 contributions/s",
            "## How to reproduce",
            "bash bench/scripts/report.sh --sizes 16,64,256",
            "Development SRS on both sides",
            "| prover-n256 | failed — exit 1 |",
        ]:
            self.assertIn(needle, md)

    def test_gas_rows(self):
        rows = self.built.rows("gas")
        submit4 = [r for r in rows if r["call"] == "submitBatch touched=4 (mock verifier)"]
        self.assertEqual(len(submit4), 1)
        self.assertEqual(submit4[0]["gas"], 56371)
        self.assertEqual(submit4[0]["intrinsic_gas"], 43124)
        demo = [r for r in rows if r["source"].startswith("merit demo")]
        self.assertEqual([(r["kind"], r["gas"]) for r in demo], [("submitBatch", 590000), ("claim", 60000)])
        self.assertEqual(demo[1]["count"], 2)  # contributors who did not claim (claim_gas 0) are left out


class ParseGasTest(unittest.TestCase):
    def test_rows_of_gas_sh(self):
        rows = make_report.parse_gas(
            "RewardRollup gas (mock verifier)\n"
            "  claim (a later claim) gas=29586\n"
            "  submitBatch touched=256 execution gas=168417 (mock verifier)\n"
            "    + intrinsic 171796 (21000 + 9700 calldata bytes); EIP-7623 floor of the whole tx 366490\n"
            "Generated halo2 verifiers (real proofs)\n"
            "  n16: verification gas: 533672\n"
            "  n16: submitBatch gas (4 touched, real verifier): 582688\n"
            "noise that is not a row\n"
        )
        self.assertEqual([r["kind"] for r in rows], ["claim", "submitBatch", "verify", "submitBatch"])
        self.assertEqual(rows[1]["touched"], 256)
        self.assertEqual(rows[1]["calldata_bytes"], 9700)
        self.assertEqual(rows[1]["eip7623_floor_gas"], 366490)
        self.assertEqual(rows[2]["config"], "n16")
        self.assertEqual(rows[3]["touched"], 4)
        self.assertEqual(rows[3]["gas"], 582688)


class MissingInputsTest(unittest.TestCase):
    def test_empty_directory_says_not_measured(self):
        empty = tempfile.mkdtemp(prefix="merit-report-empty-")
        try:
            built = Built(empty)
            try:
                self.assertIn("not measured", built.md)
                self.assertIn("Target — Merit proves ≥ 10×", built.md)
                self.assertEqual(built.json["tables"]["comparison"]["rows"], [])
                self.assertEqual(built.json["plots"], [])
            finally:
                built.close()
        finally:
            shutil.rmtree(empty, ignore_errors=True)

    def test_ezkl_missing(self):
        tmp = tempfile.mkdtemp(prefix="merit-report-noezkl-")
        try:
            shutil.copytree(RUN, os.path.join(tmp, "run"))
            os.remove(os.path.join(tmp, "run", "ezkl.json"))
            built = Built(os.path.join(tmp, "run"))
            try:
                for row in built.rows("comparison"):
                    self.assertIsNone(row["throughput_ratio"])
                    self.assertEqual(row["ezkl_status"], "not measured")
                self.assertIn("EZKL: not measured", built.md)
            finally:
                built.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@unittest.skipUnless(HAS_MATPLOTLIB, "matplotlib is not installed")
class PlotsTest(unittest.TestCase):
    def test_pngs_are_written_and_linked(self):
        built = Built(RUN, plots=True)
        try:
            self.assertEqual(built.json["plots"], ["prove_time_vs_batch.png", "throughput_vs_batch.png", "gas.png"])
            for name in built.json["plots"]:
                with open(os.path.join(built.tmp, name), "rb") as f:
                    self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
                self.assertIn(f"({name})", built.md)
        finally:
            built.close()


if __name__ == "__main__":
    unittest.main()
