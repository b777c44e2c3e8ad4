"""`python -m repro.report build [--paper-root paper] [--out paper/REPORT.md]`: write REPORT.md."""
import argparse

from repro.report.build import build_report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m repro.report", description=__doc__)
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--paper-root", default="paper")
    parser.add_argument("--out", default="paper/REPORT.md")
    args = parser.parse_args(argv)
    print(f"wrote {build_report(args.paper_root, args.out)}")


if __name__ == "__main__":
    main()
