"""Micro-benchmark of ordinary JSONata evaluation through the engine's
``Expression`` (what every node pays per expression).

    python bench/expressions_micro.py [--rounds 5] [--number 20000]

Prints the best of ``rounds`` timings in microseconds of CPU time (the
process's, so that other processes on a shared machine disturb it less) per
evaluation, for a few typical expressions. Used to check that the engine's bounds (time, depth,
result size, the RE2 regex engine) did not make ordinary evaluation slower.
"""

from __future__ import annotations

import argparse
import time
import timeit

from flowjobs.engine.expressions import Expression
from flowjobs.engine.limits import EngineLimits

SCOPE = {
    "input": {
        "name": "Ada Lovelace",
        "amount": 1234.5,
        "items": [{"sku": f"s{i}", "price": i * 1.5, "qty": i % 4} for i in range(20)],
    },
    "vars": {"count": 3, "tag": "vip"},
    "job": {"jobId": "j", "correlationId": "c", "spaceId": "s"},
}

CASES = {
    "arithmetic": "input.amount * 1.2 + vars.count",
    "string": '$uppercase(input.name) & "-" & vars.tag',
    "path+sum": "$sum(input.items.(price * qty))",
    "filter->objects": "input.items[qty > 1].{'sku': sku, 'total': price * qty}",
    "regex": "$contains(input.name, /love/i)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=20_000)
    args = parser.parse_args()
    limits = EngineLimits()
    for name, source in CASES.items():
        expression = Expression(source)
        timings = timeit.repeat(
            lambda expression=expression: expression.evaluate(SCOPE, limits),
            repeat=args.rounds,
            number=args.number,
            timer=time.process_time,
        )
        print(f"{name:18} {min(timings) / args.number * 1e6:8.2f} us")


if __name__ == "__main__":
    main()
