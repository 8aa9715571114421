"""Regenerate the example churn tables shipped beside this script (deterministic).

    python configs/data/make_churn_csv.py

``churn.csv`` has a ``churned`` target; ``churn_new.csv`` has the same features and no target,
including a plan that training never saw, to show how predict handles it.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

HERE = Path(__file__).parent
PLANS = ["basic", "standard", "premium"]
REGIONS = ["north", "south", "east", "west"]


def _row(rng: random.Random, i: int, plans: list[str]) -> dict[str, object]:
    plan = rng.choice(plans)
    region = rng.choice(REGIONS)
    tenure = rng.randint(1, 72)
    spend = round(rng.uniform(10, 120), 2)
    tickets = rng.randint(0, 8)
    score = -0.2 - 0.05 * tenure + 0.02 * spend + 0.45 * tickets - {"basic": 0.0, "standard": 0.6, "premium": 1.2}.get(plan, 0)
    score += 0.4 if region == "south" else 0.0
    churned = int(rng.random() < 1 / (1 + math.exp(-score)))
    return {"customer_id": f"C{i:05d}", "plan": plan, "region": region, "tenure_months": tenure,
            "monthly_spend": spend, "support_tickets": tickets, "churned": churned}


def main() -> None:
    rng = random.Random(7)
    rows = [_row(rng, i, PLANS) for i in range(600)]
    with open(HERE / "churn.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    new = [_row(rng, 10_000 + i, [*PLANS, "enterprise"]) for i in range(40)]
    with open(HERE / "churn_new.csv", "w", newline="") as f:
        fields = [k for k in new[0] if k != "churned"]
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(new)


if __name__ == "__main__":
    main()
