"""`stillmotion eval VIDEO --image I [--tail T] [--json] [--max-side 320]`.

Kept apart from report.py so building the CLI parser imports no OpenCV or PyAV.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_MAX_SIDE = 320  # the same as flow.DEFAULT_MAX_SIDE (not imported: it pulls in OpenCV)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", help="an MP4 (or any file PyAV decodes)")
    p.add_argument("--image", help="the input image: frame-0 PSNR/SSIM against it")
    p.add_argument("--tail", help="the end image (start-end): last-frame PSNR against it")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE,
                   help=f"longest side flow is estimated at (default {DEFAULT_MAX_SIDE})")


def run(args: argparse.Namespace) -> int:
    """`stillmotion eval`: print the report; a missing or unreadable file is one clear line."""
    for name in ("video", "image", "tail"):
        path = getattr(args, name)
        if path is not None and not Path(path).is_file():
            print(f"error: {name}: no such file {path!r}", file=sys.stderr)
            return 2
    if args.max_side < 16:
        print(f"error: --max-side: must be at least 16, got {args.max_side}", file=sys.stderr)
        return 2
    from stillmotion.evaluation.report import evaluate_video, format_report

    try:
        report = evaluate_video(args.video, image=args.image, tail=args.tail, max_side=args.max_side)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stillmotion eval", description="Quality metrics of a clip")
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
