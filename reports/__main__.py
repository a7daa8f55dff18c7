"""CLI: python -m reports render results.json -o out.html [--baseline old.json] [--junit out.xml]
        python -m reports summary results.json
        python -m reports sample -o sample.json [--clients 6] [--checks 80] [--seed 0]

Exit codes: 0 done, 2 bad input (missing or invalid file, bad arguments). Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .model import ResultsError, load


def _render(args: argparse.Namespace) -> int:
    from .render import render

    results = load(args.results)
    baseline = load(args.baseline) if args.baseline else None
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, baseline), encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.junit:
        from .junit import write_junit

        print(f"wrote {write_junit(results, args.junit)}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from .summary import summary_text

    print(summary_text(load(args.results), path=str(args.results), html=args.html))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from .sample import make_sample

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(make_sample(args.clients, args.checks, args.seed), indent=1), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m reports", description="Render conformance results.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="results.json -> one self-contained HTML file (and JUnit XML)")
    r.add_argument("results", help="results.json written by the pytest plugin")
    r.add_argument("-o", "--output", required=True, help="the HTML file to write")
    r.add_argument("--baseline", help="an older results.json to compare with")
    r.add_argument("--junit", help="also write JUnit XML here")
    r.set_defaults(fn=_render)
    s = sub.add_parser("summary", help="a one-screen text summary")
    s.add_argument("results")
    s.add_argument("--html", help="path of the HTML report, to mention in the summary")
    s.set_defaults(fn=_summary)
    m = sub.add_parser("sample", help="write a realistic sample results.json")
    m.add_argument("-o", "--output", required=True)
    m.add_argument("--clients", type=int, default=6)
    m.add_argument("--checks", type=int, default=80)
    m.add_argument("--seed", type=int, default=0)
    m.set_defaults(fn=_sample)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
