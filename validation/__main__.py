"""``python -m validation``: run the validation suite and write ``docs/validation.md``.

Usage: ``python -m validation [--profile smoke|default|full] [--out docs/validation.md]
[--workers N]``. The page holds no times; the CPU time each case took is printed on stdout.
Exit code 0 when no check fails (pending ones do not count), 1 otherwise.
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

from validation.cases import PROFILES
from validation.page import build


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m validation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--profile", choices=PROFILES, default="default")
    parser.add_argument("--out", type=Path, default=Path("docs/validation.md"))
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: all cores)"
    )
    args = parser.parse_args(argv)
    last = [_cpu()]

    def progress(name: str) -> None:
        now = _cpu()
        print(f"{name:<36} {now - last[0]:8.1f} s CPU", flush=True)
        last[0] = now

    first = _cpu()
    page = build(args.profile, workers=args.workers, progress=progress)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page.markdown, encoding="utf-8")
    passed, failed, pending = page.counts
    print(f"{'total':<36} {_cpu() - first:8.1f} s CPU")
    print(f"{passed} passed, {failed} failed, {pending} pending → {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
