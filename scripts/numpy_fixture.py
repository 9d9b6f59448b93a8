#!/usr/bin/env python3
"""Generates tests/fixtures/numpy_legacy.json: draws of numpy's legacy RandomState that the
numpy-legacy generator must reproduce bit for bit.

Usage: python3 scripts/numpy_fixture.py > tests/fixtures/numpy_legacy.json   (needs numpy)

Each case is one RandomState(seed) and a list of operations applied in order, with their results, so
the interleaving of primitives (and the Gaussian cache shared by gamma draws) is covered too.
"""
import json
import sys

import numpy as np

SEEDS = [0, 1, 42, 12345, 2**32 - 1]


def case(seed):
    rs = np.random.RandomState(seed)
    ops = []

    def rec(op, arg, value):
        ops.append({"op": op, "arg": arg, "value": value})

    for _ in range(5):
        rec("uniform", None, float(rs.rand()))
    for _ in range(3):
        rec("exponential", None, float(rs.standard_exponential()))
    for shape in [3.0, 3.0, 0.5, 1.0, 7.5, 3.0]:
        rec("gamma", shape, float(rs.standard_gamma(shape)))
    for n in [5, 5, 1, 2, 7, 100, 1000, 3]:
        rec("choice", n, int(rs.choice(list(range(n)))))
    for _ in range(3):
        rec("gauss", None, float(rs.standard_normal()))
    for _ in range(40):
        k = int(rs.randint(0, 4))  # the op mix itself comes from the stream, so draws interleave
        rec("choice", 4, k)
        if k == 0:
            rec("uniform", None, float(rs.rand()))
        elif k == 1:
            rec("exponential", None, float(rs.standard_exponential()))
        elif k == 2:
            rec("gamma", 3.0, float(rs.standard_gamma(3.0)))
        else:
            rec("gauss", None, float(rs.standard_normal()))
    return {"seed": seed, "ops": ops}


json.dump({"numpy": np.__version__, "cases": [case(s) for s in SEEDS]}, sys.stdout, indent=1)
sys.stdout.write("\n")
