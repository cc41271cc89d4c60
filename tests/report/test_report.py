"""kiln report (tools/report/kiln_report.py) on synthetic runs with known answers.

Environment: KILN_REPORT_SCRIPT (the script; default: found from this file's place in the tree),
KILN_BIN (the kiln executable; the `kiln report` tests are skipped when it is not built).
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.environ.get("KILN_REPORT_SCRIPT") or os.path.join(HERE, "..", "..", "tools", "report", "kiln_report.py")
KILN_BIN = os.environ.get("KILN_BIN", "")


def write_run(root, name, global_batch, seq_length, records, lr=1e-3):
    d = os.path.join(root, name)
    os.makedirs(d)
    with open(os.path.join(d, "config.yml"), "w") as f:
        f.write(f"# resolved config\nmodel:\n  seq_length: {seq_length}\n  hidden_size: 64\n"
                f"optimizer:\n  lr: {lr}\nschedule:\n  style: constant\n"
                f"batch:\n  micro_batch: 1\n  global_batch: {global_batch}\n")
    with open(os.path.join(d, "metrics.jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return d


def train_rec(step, tokens_per_step, loss, lr):
    return {"step": step, "tokens": step * tokens_per_step, "loss": loss, "lr": lr, "grad_norm": 1.0,
            "tokens_per_s": 1000.0}


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        # Run a: 4 × 8 = 32 tokens per step, loss = 5 - step/100, lr 1e-3 constant, steps 10..300.
        # It was resumed from step 100: the first attempt logged steps 10..150 with a wrong loss
        # from step 100 on; the later records of those steps must win.
        a = [train_rec(s, 32, 5 - s / 100, 1e-3) for s in range(10, 100, 10)]
        a += [train_rec(s, 32, 9.9, 1e-3) for s in range(100, 160, 10)]
        a += [train_rec(s, 32, 5 - s / 100, 1e-3) for s in range(100, 310, 10)]
        self.a = write_run(self.root, "a", 4, 8, a)
        # Run b: 8 × 8 = 64 tokens per step, loss = 5 - step/50, lr = step × 1e-5, steps 10..200.
        b = [train_rec(s, 64, 5 - s / 50, s * 1e-5) for s in range(10, 210, 10)]
        self.b = write_run(self.root, "b", 8, 8, b)

    def tearDown(self):
        self.tmp.cleanup()

    def report(self, *args, expect=0):
        out = os.path.join(self.root, "out")
        p = subprocess.run([sys.executable, SCRIPT, *args, "-o", out], capture_output=True, text=True)
        self.assertEqual(p.returncode, expect, p.stdout + p.stderr)
        if expect != 0:
            return p, out
        with open(os.path.join(out, "report.json")) as f:
            return json.load(f), out

    def by_run(self, items):
        return {x["run"]: x for x in items}

    def test_runs_table(self):
        rep, out = self.report(self.a, self.b, "--smooth", "1")
        runs = self.by_run(rep["runs"])
        self.assertAlmostEqual(runs["a"]["final_train_loss"], 2.0)
        self.assertAlmostEqual(runs["b"]["final_train_loss"], 1.0)
        self.assertIsNone(runs["a"]["final_eval_loss"])
        self.assertEqual(runs["a"]["steps"], 300)
        self.assertEqual(runs["a"]["tokens"], 9600)
        self.assertEqual(runs["b"]["steps"], 200)
        self.assertEqual(runs["b"]["tokens"], 12800)
        self.assertEqual(runs["a"]["batch_tokens"], 32)
        self.assertEqual(runs["b"]["batch_tokens"], 64)
        with open(os.path.join(out, "report.md")) as f:
            md = f.read()
        self.assertIn("| a |", md)
        self.assertIn("Appendix D", md)

    def test_runs_in_natural_order(self):
        # A shell glob gives bs=16 before bs=4; the report lists runs by the numbers in their names.
        for gb in (16, 4, 8):
            write_run(self.root, f"bs={gb}", gb, 8, [train_rec(s, gb * 8, 4.0, 1e-3) for s in (10, 20)])
        dirs = [os.path.join(self.root, f"bs={gb}") for gb in (16, 4, 8)]
        result, _ = self.report(*dirs)
        self.assertEqual([r["run"] for r in result["runs"]], ["bs=4", "bs=8", "bs=16"])

    def test_batch_size_explicit_target(self):
        rep, _ = self.report(self.a, self.b, "--smooth", "1", "--target-loss", "4.0")
        bsa = rep["batch_size_analysis"]
        self.assertEqual(bsa["loss_source"], "train")
        self.assertEqual(bsa["target_loss"], 4.0)
        self.assertFalse(bsa["target_loss_default"])
        self.assertEqual(bsa["reference_batch_tokens"], 32)
        c = self.by_run(bsa["runs"])
        self.assertEqual((c["a"]["step"], c["a"]["tokens"]), (100, 3200))  # not 9.9 from the first attempt
        self.assertEqual((c["b"]["step"], c["b"]["tokens"]), (50, 3200))
        self.assertAlmostEqual(c["a"]["speedup_steps"], 1.0)
        self.assertAlmostEqual(c["b"]["speedup_steps"], 2.0)
        self.assertAlmostEqual(c["b"]["token_cost_ratio"], 1.0)
        self.assertEqual([g["batch_tokens"] for g in bsa["groups"]], [32, 64])

    def test_batch_size_default_target(self):
        rep, _ = self.report(self.a, self.b, "--smooth", "1")
        bsa = rep["batch_size_analysis"]
        self.assertTrue(bsa["target_loss_default"])
        self.assertAlmostEqual(bsa["target_loss"], 2.0)  # highest final loss: run a
        c = self.by_run(bsa["runs"])
        self.assertTrue(all(x["reached"] for x in bsa["runs"]))
        self.assertEqual(c["a"]["step"], 300)
        self.assertEqual(c["b"]["step"], 150)
        self.assertAlmostEqual(c["b"]["speedup_steps"], 2.0)
        self.assertAlmostEqual(c["b"]["token_cost_ratio"], 9600 / 9600)

    def test_smoothing_window(self):
        # Trailing mean of 3 values at step s: 5 - (s - 10)/100, first <= 4.0 at s = 110.
        rep, _ = self.report(self.a, "--smooth", "3", "--target-loss", "4.000001")  # mean of 4.1, 4, 3.9
        bsa = rep["batch_size_analysis"]
        self.assertEqual(bsa["smoothing"], {"method": "trailing_mean", "window": 3})
        self.assertEqual(bsa["runs"][0]["step"], 110)

    def test_unreached_target(self):
        rep, _ = self.report(self.a, self.b, "--smooth", "1", "--target-loss", "1.5")
        c = self.by_run(rep["batch_size_analysis"]["runs"])
        self.assertFalse(c["a"]["reached"])
        self.assertIsNone(c["a"]["step"])
        self.assertEqual(c["b"]["step"], 180)  # 5 - 180/50 = 1.4; 170 gives 1.6

    def test_schedule_average_lr(self):
        # Run c: lr logged at steps 0, 10, 100 as 0, 1, 1: integral 5 + 90 = 95 over 100 steps.
        recs = [train_rec(0, 16, 3.0, 0.0), train_rec(10, 16, 2.5, 1.0), train_rec(100, 16, 2.0, 1.0)]
        recs += [{"step": 50, "tokens": 800, "eval_loss": 2.6}, {"step": 100, "tokens": 1600, "eval_loss": 2.2}]
        c = write_run(self.root, "c", 2, 8, recs)
        rep, _ = self.report(self.a, self.b, c, "--smooth", "1")
        s = self.by_run(rep["schedule_analysis"]["runs"])
        self.assertAlmostEqual(s["a"]["avg_lr_integral"], 1e-3)
        self.assertAlmostEqual(s["a"]["avg_lr_mean"], 1e-3)
        self.assertAlmostEqual(s["b"]["avg_lr_integral"], (1e-4 + 2e-3) / 2)
        self.assertAlmostEqual(s["c"]["avg_lr_integral"], 0.95)
        self.assertAlmostEqual(s["c"]["avg_lr_mean"], 2 / 3)
        self.assertAlmostEqual(s["a"]["final_loss"], 2.0)
        self.assertEqual(rep["schedule_analysis"]["runs"][0]["peak_lr"], 1e-3)
        runs = self.by_run(rep["runs"])
        self.assertAlmostEqual(runs["c"]["final_eval_loss"], 2.2)

    def test_eval_loss_used_when_every_run_has_it(self):
        recs = [train_rec(s, 16, 3.0, 1.0) for s in (10, 50, 100)]
        recs += [{"step": 50, "tokens": 800, "eval_loss": 2.6}, {"step": 100, "tokens": 1600, "eval_loss": 2.2}]
        c = write_run(self.root, "c", 2, 8, recs)
        rep, out = self.report(c, "--smooth", "1", "--target-loss", "2.5")
        bsa = rep["batch_size_analysis"]
        self.assertEqual(bsa["loss_source"], "eval")
        self.assertEqual((bsa["runs"][0]["step"], bsa["runs"][0]["tokens"]), (100, 1600))
        self.assertIn("eval_loss_vs_tokens.png", rep["plots"])
        self.assertIn("eval_loss_vs_steps.png", rep["plots"])

    def test_plots_are_pngs(self):
        rep, out = self.report(self.a, self.b)
        for name in ("train_loss_vs_tokens.png", "train_loss_vs_steps.png", "lr_vs_step.png",
                     "batch_size_target.png", "schedule_avg_lr.png"):
            self.assertIn(name, rep["plots"])
        for name in rep["plots"]:
            path = os.path.join(out, name)
            self.assertGreater(os.path.getsize(path), 100, name)
            with open(path, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", name)

    def test_labels_name_the_keys_that_vary(self):
        # Runs that differ only in optimizer.lr (and batch): labelled by those keys, not their names.
        x = write_run(self.root, "sweep-lr=1e-3", 4, 8, [train_rec(s, 32, 4.0, 1e-3) for s in (10, 20)], lr=1e-3)
        y = write_run(self.root, "sweep-lr=3e-3", 4, 8, [train_rec(s, 32, 3.9, 3e-3) for s in (10, 20)], lr=3e-3)
        rep, out = self.report(x, y)
        self.assertEqual(rep["varied_keys"], ["optimizer.lr"])
        self.assertEqual(rep["labels"], {"sweep-lr=1e-3": "lr=0.001", "sweep-lr=3e-3": "lr=0.003"})
        with open(os.path.join(out, "report.md")) as f:
            text = f.read()
        self.assertIn("`optimizer.lr`", text)

    def test_an_analysis_is_shown_only_where_its_dimension_varies(self):
        # One batch size: no batch-size table or plot (the numbers stay in the JSON). The lr curves
        # differ, so the schedule analysis stays.
        x = write_run(self.root, "x", 4, 8, [train_rec(s, 32, 4.0, 1e-3) for s in (10, 20)], lr=1e-3)
        y = write_run(self.root, "y", 4, 8, [train_rec(s, 32, 3.9, 3e-3) for s in (10, 20)], lr=3e-3)
        rep, out = self.report(x, y)
        self.assertFalse(rep["batch_size_analysis"]["applies"])
        self.assertNotIn("batch_size_target.png", rep["plots"])
        self.assertIn("schedule_avg_lr.png", rep["plots"])
        with open(os.path.join(out, "report.md")) as f:
            text = f.read()
        self.assertIn("No batch-size analysis: every run has the same global batch (32 tokens)", text)
        self.assertNotIn("## Batch size (Stable LM 2, Appendix D)", text)
        self.assertIn("## Schedule (Stable LM 2, Appendix B)", text)
        self.assertEqual(len(rep["batch_size_analysis"]["runs"]), 2)
        # Same lr curves too: neither analysis is shown.
        z = write_run(self.root, "z", 4, 8, [train_rec(s, 32, 3.8, 1e-3) for s in (10, 20)], lr=1e-3)
        rep, out = self.report(x, z)
        self.assertNotIn("schedule_avg_lr.png", rep["plots"])
        self.assertEqual(rep["varied_keys"], [])

    def test_html_format(self):
        rep, out = self.report(self.a, self.b, "--format", "html")
        self.assertEqual(rep["report"], "report.html")
        with open(os.path.join(out, "report.html")) as f:
            text = f.read()
        self.assertIn("<table>", text)
        self.assertIn("lr_vs_step.png", text)
        self.assertFalse(os.path.exists(os.path.join(out, "report.md")))

    def test_missing_metrics(self):
        bad = os.path.join(self.root, "x")
        os.makedirs(bad)
        with open(os.path.join(bad, "config.yml"), "w") as f:
            f.write("model:\n  seq_length: 8\n")
        p, out = self.report(self.a, bad, expect=2)
        self.assertIn(f"no metrics.jsonl in {bad}", p.stderr)
        self.assertFalse(os.path.exists(out), "nothing is written before every run is checked")

    def test_missing_directory(self):
        p, _ = self.report(os.path.join(self.root, "nope"), expect=2)
        self.assertIn("nope", p.stderr)

    def test_bad_json_line(self):
        d = write_run(self.root, "bad", 1, 8, [train_rec(1, 8, 1.0, 1.0)])
        with open(os.path.join(d, "metrics.jsonl"), "a") as f:
            f.write("{not json\n")
            f.write(json.dumps(train_rec(2, 8, 1.0, 1.0)) + "\n")
        p, _ = self.report(d, expect=2)
        self.assertIn("metrics.jsonl:2", p.stderr)


@unittest.skipUnless(KILN_BIN and os.path.isfile(KILN_BIN), "kiln executable not built (KILN_BIN)")
class KilnCliTest(unittest.TestCase):
    def test_kiln_report(self):
        with tempfile.TemporaryDirectory() as root:
            a = write_run(root, "a", 4, 8, [train_rec(s, 32, 5 - s / 100, 1e-3) for s in range(10, 110, 10)])
            out = os.path.join(root, "out")
            env = dict(os.environ, KILN_REPORT_SCRIPT=SCRIPT)
            # --smooth 1: the raw loss 5 − step/100 first reaches 4.5 at step 50.
            p = subprocess.run([KILN_BIN, "report", a, "-o", out, "--target-loss", "4.5", "--smooth", "1"],
                               capture_output=True, text=True, env=env)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(os.path.join(out, "report.json")) as f:
                rep = json.load(f)
            self.assertEqual(rep["batch_size_analysis"]["runs"][0]["step"], 50)

    def test_kiln_report_of_a_sweep_folder_reports_its_runs(self):
        # `kiln report runs/SWEEP`: the folder kiln sweep fills stands for the runs inside it.
        with tempfile.TemporaryDirectory() as root:
            sweep = os.path.join(root, "sweep")
            for name, batch in (("b-4", 4), ("b-16", 16)):
                write_run(sweep, name, batch, 8, [train_rec(s, batch * 8, 5 - s / 100, 1e-3)
                                                  for s in range(10, 110, 10)])
            out = os.path.join(root, "out")
            env = dict(os.environ, KILN_REPORT_SCRIPT=SCRIPT)
            p = subprocess.run([KILN_BIN, "report", sweep, "-o", out, "--smooth", "1"],
                               capture_output=True, text=True, env=env)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(os.path.join(out, "report.json")) as f:
                rep = json.load(f)
            names = sorted(os.path.basename(r["run"]) for r in rep["batch_size_analysis"]["runs"])
            self.assertEqual(names, ["b-16", "b-4"])

    def test_kiln_report_missing_metrics(self):
        with tempfile.TemporaryDirectory() as root:
            bad = os.path.join(root, "x")
            os.makedirs(bad)
            p = subprocess.run([KILN_BIN, "report", bad, "-o", os.path.join(root, "out")],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn(f"no metrics.jsonl in {bad}", p.stderr)


if __name__ == "__main__":
    unittest.main()
