"""`python -m repro.bench NAME [--quick]`: run one benchmark (or `all`) and print its JSON."""
import argparse
import importlib
import json
import pkgutil
import sys

import repro.bench


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(repro.bench.__path__) if not m.name.startswith("_"))


def main(argv=None) -> int:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m repro.bench", description=__doc__)
    parser.add_argument("name", choices=names + ["all"])
    parser.add_argument("--quick", action="store_true", help="tiny inputs: checks the benchmark runs, measures little")
    args = parser.parse_args(argv)
    results = {}
    for name in names if args.name == "all" else [args.name]:
        results[name] = importlib.import_module(f"repro.bench.{name}").run(quick=args.quick)
    json.dump(results if args.name == "all" else results[args.name], sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
