"""Reserve+release pairs/s of two checkouts of this project, alternating, on the bench-catalog data.

    git worktree add /tmp/catalog-before <commit>
    DATABASE_URL=... CACHE_URL=... python bench/catalog_compare.py /tmp/catalog-before .

Each round runs CALLERS spawned processes per checkout (released together by a barrier after a one-second
warm-up), importing `contexts.catalog.api` from that checkout and nothing else of it: the harness, the
data and the database are the same for both, and rounds alternate in ABBA order so that a busy
neighbour on the machine slows both alike. Prints each round, each checkout's mean and the ratio of the
second to the first. The data and migrations are those make bench-catalog loaded (run it first).
"""

import argparse
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_catalog import BENCH_DB, _api_pairs, _server_url, run_callers  # noqa: E402


def _worker(checkout: str, seconds: float, seed: int, start, queue) -> None:
    sys.path.insert(0, checkout)
    os.chdir(checkout)
    os.environ.update(
        DATABASE_URL=_server_url(BENCH_DB),
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        LOG_LEVEL="WARNING",
    )
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
    import django

    django.setup()
    from contexts.catalog import api

    if not api.__file__.startswith(checkout):
        raise SystemExit(f"imported {api.__file__}, not from {checkout}")
    rng = random.Random(seed)
    _api_pairs(api, rng, seed + 1000, 1.0)
    start.wait()
    queue.put(_api_pairs(api, rng, seed, seconds))


def _round(checkout: str, seconds: float) -> tuple[float, int]:
    pairs, errors, elapsed = run_callers(_worker, checkout, seconds)
    return pairs / elapsed, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="the first checkout (a directory)")
    parser.add_argument("after", help="the second checkout (a directory)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0, help="per round and checkout")
    args = parser.parse_args()
    checkouts = [str(Path(args.before).resolve()), str(Path(args.after).resolve())]
    rates: dict[str, list[float]] = {c: [] for c in checkouts}
    for n in range(args.rounds):
        # ABBA order: a load that rises or falls during the run weighs on both checkouts alike.
        for checkout in checkouts if n % 2 == 0 else reversed(checkouts):
            rate, errors = _round(checkout, args.seconds)
            rates[checkout].append(rate)
            print(f"round {n + 1}  {checkout:<40} {rate:8.1f} pairs/s  ({errors} errors)", flush=True)
    means = [sum(rates[c]) / len(rates[c]) for c in checkouts]
    for checkout, mean in zip(checkouts, means, strict=True):
        print(f"mean     {checkout:<40} {mean:8.1f} pairs/s")
    print(f"after / before: {means[1] / means[0]:.3f}")


if __name__ == "__main__":
    main()
