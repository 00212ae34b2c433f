"""Peak RSS of thumbnailing each hostile-media corpus item (tests/actors/hostile_media.py), each
in a fresh child process under a 4 GB address-space ceiling, against the child's RSS at rest.

    PYTHONPATH=. python benchmarks/bench_hostile_media.py [--panorama WIDTHxHEIGHT]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "actors"))

from hostile_media import corpus, decode_isolated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--panorama", default="12000x4000", help="size of the streamed PNG")
    args = parser.parse_args()
    width, height = (int(v) for v in args.panorama.split("x"))
    print(f"{'item':22} {'bytes':>9} {'expect':8} {'outcome':8} {'rest MB':>8} {'peak MB':>8}"
          f" {'s':>5}  reason")
    with tempfile.TemporaryDirectory() as tmp:
        for item in corpus(panorama=(width, height)):
            source = Path(tmp) / item.filename
            source.write_bytes(item.data)
            started = time.monotonic()
            result = decode_isolated(source, Path(tmp) / f"out-{item.name}")
            elapsed = time.monotonic() - started
            print(
                f"{item.name:22} {len(item.data):9} {item.expect:8} {result['status']!s:8}"
                f" {float(str(result.get('base_mb', 'nan'))):8.0f}"
                f" {float(str(result['peak_mb'])):8.0f} {elapsed:5.1f}  {str(result['reason'])[:70]}",
                flush=True,
            )
            source.unlink()


if __name__ == "__main__":
    main()
