"""Time the port engine on large random catalogs.

Default: 10,000 services spread over 20 ranges of 1,000 ports (wider when a range would
hold more than half its ports), about a third of them on a
shared port, plus reserved and in-use ports. Prints the best of several runs for a series of
sizes, and the growth per doubling, so O(n log n) (about 2.1x per doubling) can be told from
O(n^2) (4x).

    python bench/bench_engine.py [--services 10000] [--ranges 20] [--repeat 5]
"""
import argparse
import os
import random
import sys
import time

# The collection as `make setup` links it (.collections/ansible_collections/hailo/services).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".collections"))
from ansible_collections.hailo.services.plugins.plugin_utils.port_map import reconcile  # noqa: E402  (pure, no Ansible)


def make_catalog(services, ranges, seed=7):
    rng = random.Random(seed)
    per_range = max(1, services // ranges)
    span = max(1000, per_range * 2)
    range_list = [{"start": 20000 + i * span, "end": 20000 + i * span + span - 1} for i in range(ranges)]
    catalog = {}
    for index in range(services):
        block = range_list[index % ranges]
        # Crowd the services into the lower part of each range so about a third collide.
        port = block["start"] + rng.randrange(min(span, int(per_range * 1.2)))
        catalog["svc-%05d" % index] = {
            "port": port,
            "priority": rng.randrange(3),
            "frozen": rng.random() < 0.01,
        }
    # At most one frozen service per port.
    seen = set()
    for spec in catalog.values():
        if spec["frozen"]:
            if spec["port"] in seen:
                spec["frozen"] = False
            seen.add(spec["port"])
    reserved = [r["end"] for r in range_list]
    in_use = [r["start"] + 1 for r in range_list if r["start"] + 1 not in seen]
    return catalog, range_list, reserved, in_use


def best_time(services, ranges, repeat):
    catalog, range_list, reserved, in_use = make_catalog(services, ranges)
    times = []
    for _attempt in range(repeat):
        start = time.perf_counter()
        result = reconcile(catalog, ranges=range_list, reserved=reserved, in_use=in_use)
        times.append(time.perf_counter() - start)
    return min(times), len(result["changes"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--ranges", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    sizes = [args.services // 8, args.services // 4, args.services // 2, args.services, args.services * 2]
    previous = None
    print("%8s  %8s  %10s  %s" % ("services", "moved", "best ms", "x per doubling"))
    for size in sizes:
        seconds, moved = best_time(size, args.ranges, args.repeat)
        growth = "" if previous is None else "%.2f" % (seconds / previous)
        print("%8d  %8d  %10.1f  %s" % (size, moved, seconds * 1000, growth))
        previous = seconds
    target, _moved = best_time(args.services, args.ranges, args.repeat)
    print("engine: %d services over %d ranges in %.1f ms (best of %d)"
          % (args.services, args.ranges, target * 1000, args.repeat))


if __name__ == "__main__":
    main()
