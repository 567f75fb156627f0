"""The demo's table reads the right way: ours-vs-reference is relative to the exact value (a
reference value of 0 gives a finite number, not ``inf``), "of peak" near zero, a verdict that
says when the reference is the one off, and a line under the table saying what each column is."""

from __future__ import annotations

import io
import math

import numpy as np

from jaxsched.tools import demo, parity
from jaxsched.tools.judge import judge


def test_ours_ref_is_relative_to_exact_when_the_reference_is_zero():
    v = judge(np.array([0.1, 0.05]), np.array([0.1, 0.05]), np.array([0.0, 0.05]), x64=True)
    assert v.ok and v.ref == 1.0 and v.ours_ref == 1.0 and not v.ours_ref_of_peak


def test_ours_ref_near_zero_is_in_units_of_the_peak():
    exact = np.array([0.1, 1e-18])  # a cosine's end: exact within rounding noise of 0
    v = judge(np.array([0.1, 0.0]), exact, np.array([0.1, 3e-18]), x64=True)
    assert v.ours_ref == 3e-18 / 0.1 and v.ours_ref_of_peak
    clean = judge(exact, exact, exact, x64=True)
    assert clean.ours_ref == 0.0 and not clean.ours_ref_of_peak


def test_demo_table_where_the_reference_gives_zero():
    cases = [c for fam, name in (("timm", "cosine_mul3_boundary"), ("keras", "polynomial_cycle"))
             for c in parity.load_cases(fam) if c["name"] == name]
    assert len(cases) == 2
    rows, ok = demo.error_table(cases)
    assert ok
    out = io.StringIO()
    demo.print_table(rows, out)
    text = out.getvalue()
    assert "inf" not in text and "nan" not in text
    for row in rows:
        assert math.isfinite(float(row[demo.COLUMNS.index("f64 ours-ref")].split()[0]))
        assert row[-1] == "ok (the reference is off exact)"
    assert text.splitlines()[-1] == demo.LEGEND
    assert "ours-ref = jaxsched vs the reference" in demo.LEGEND
