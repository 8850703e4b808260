"""tools/kernel_timeline.py on a timeline small enough to work out by hand: two tokens of two kernels (rotary, then
the dense GEMV), two blocks a launch; the second token's launches are measured from the end of the launch before.
The command line reads the record as it was before the GEMV noted its staged and summed moments (session 24's)."""
import csv
import gzip
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")
sys.path.insert(0, TOOLS)
import kernel_timeline  # noqa: E402

FIELDS = ["kind", "a", "b", "block", "blocks", "sm", "start", "waited", "staged", "summed", "end"]
ROTARY = (1, 0, 0)
DENSE = (0, 4096, 4096)
# (kernel, block, start, waited, staged, summed, end) in ns; a wait of 0 is a block that did not wait, and only the
# GEMV notes staged and summed.
BLOCKS = [
    (ROTARY, 0, 0, 0, 0, 0, 1000), (ROTARY, 1, 0, 0, 0, 0, 1200),
    (DENSE, 0, 500, 1900, 2000, 2500, 3000), (DENSE, 1, 1500, 2100, 2200, 2700, 3400),
    (ROTARY, 1, 3300, 4200, 0, 0, 5000), (ROTARY, 0, 3600, 4400, 0, 0, 5400),  # the dense before ends at 3400
    (DENSE, 1, 4000, 6200, 6500, 7000, 7400), (DENSE, 0, 5600, 6600, 6800, 7200, 7800),  # the rotary: 5400
]


def rows(blocks=BLOCKS):
    return [dict(zip(FIELDS, (*kernel, block, 2, 0, *times))) for kernel, block, *times in blocks]


class KernelTimelineTest(unittest.TestCase):
    def test_summary(self):
        s = kernel_timeline.summarize(kernel_timeline.launches_of(rows()), tokens=2)
        self.assertEqual(list(s), ["rotary + KV append", "dense"])
        expected = {
            "rotary + KV append": {"exposed": 2.0, "first start": -0.1, "last start": 0.2, "early": 0.5,
                                   "released": 0.9, "after wait": 0.9, "exposed_us_per_token": 2.0},
            "dense": {"exposed": 2.4, "first start": -1.4, "last start": 0.2, "early": 0.5,
                      "released": 1.0, "after wait": 1.2, "exposed_us_per_token": 2.4,
                      "staging": 0.25, "computing": 0.45, "reducing": 0.5},
        }
        for name, figures in expected.items():
            for key, value in figures.items():
                self.assertAlmostEqual(s[name][key], value, places=9, msg=f"{name}: {key}")
        self.assertNotIn("staging", s["rotary + KV append"])

    def test_by_start(self):
        t = kernel_timeline.by_start(kernel_timeline.launches_of(rows()), tokens=2)
        self.assertEqual(t["rotary + KV append"]["last us before"], {"share": 0.5, "released": 0.8, "end": 1.6})
        self.assertEqual(t["rotary + KV append"]["after"], {"share": 0.5, "released": 1.0, "end": 2.0})
        self.assertEqual(t["dense"]["8-1 us before"], {"share": 0.5, "released": 0.8, "end": 2.0})
        self.assertEqual(t["dense"]["after"], {"share": 0.5, "released": 1.2, "end": 2.4})

    def test_by_units(self):
        # Two tokens of a GEMV of 3 stripes on 2 blocks: block 0 takes stripes 0 and 2, block 1 stripe 1.
        gemv = (0, 48, 64)
        blocks = [(gemv, 0, 0, 0, 0, 0, 1000), (gemv, 1, 0, 0, 0, 0, 800),
                  (gemv, 0, 900, 1100, 1200, 2600, 2800), (gemv, 1, 950, 1100, 1250, 1650, 1800)]
        t = kernel_timeline.by_units(kernel_timeline.launches_of(rows(blocks)), tokens=2)
        self.assertEqual(list(t["gemv 48x64"]), [1, 2])
        for units, expected in ((1, {"share": 0.5, "end": 0.8, "last end": 0.8, "computing": 0.4}),
                                (2, {"share": 0.5, "end": 1.8, "last end": 1.8, "computing": 1.4})):
            for key, value in expected.items():
                self.assertAlmostEqual(t["gemv 48x64"][units][key], value, places=9, msg=f"{units}: {key}")
        self.assertNotIn("rotary + KV append", kernel_timeline.by_units(kernel_timeline.launches_of(rows()), 2))

    def test_launches_must_be_whole(self):
        with self.assertRaises(SystemExit):
            kernel_timeline.launches_of(rows(BLOCKS[:3]))

    def test_command_line_reads_gzip(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "timeline.csv.gz")
            with gzip.open(path, "wt", newline="") as f:
                w = csv.DictWriter(f, [k for k in FIELDS if k not in ("staged", "summed")], extrasaction="ignore")
                w.writeheader()
                w.writerows(rows())
            out = os.path.join(d, "summary.json")
            subprocess.run([sys.executable, os.path.join(TOOLS, "kernel_timeline.py"), path, "--tokens", "2",
                            "--by-start", "--by-units", "--json", out], check=True, capture_output=True)
            with open(out) as f:
                result = json.load(f)
        self.assertEqual(result["timer_step_ns"], 100)
        self.assertAlmostEqual(result["token_us"], 4.4)
        self.assertEqual(result["by_start"]["dense"]["after"]["end"], 2.4)
        self.assertNotIn("staging", result["kernels"]["dense"])
        self.assertEqual(result["by_units"]["dense"]["128"],
                         {"share": 1.0, "end": 2.2, "last end": 2.4, "computing": None})


if __name__ == "__main__":
    unittest.main()
