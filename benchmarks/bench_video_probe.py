"""Cost of metadata's video probe (header, first frame, packet scan for ``asset_keyframe``)
against a full decode of the same clip, on clips made here with PyAV.

    PYTHONPATH=. python benchmarks/bench_video_probe.py [--seconds 30] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from immich_trio.actors.metadata.stream_probe import probe_streams
from tests.actors.video_samples import make_video


def best_of(runs: int, fn: object) -> float:
    assert callable(fn)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def full_decode(path: str) -> None:
    with av.open(path) as container:
        for _ in container.decode(video=0):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    fps = 30
    with tempfile.TemporaryDirectory() as tmp:
        source = make_video(
            Path(tmp) / "clip.mp4", width=width, height=height, fps=fps, frames=fps * args.seconds,
            gop=fps * 2, colour=lambda i: (i % 256, (3 * i) % 256, 90), audio=True,
        )  # fmt: skip
        probe = probe_streams(str(source))
        assert probe.packets is not None
        probe_s = best_of(args.runs, lambda: probe_streams(str(source)))
        decode_s = best_of(args.runs, lambda: full_decode(str(source)))
        print(f"clip: {args.seconds}s {width}x{height} h264, {source.stat().st_size} bytes,"
              f" {probe.packets.packet_count} packets, {len(probe.packets.pts)} keyframes")
        print(f"probe (header + first frame + packet scan): {probe_s * 1000:8.1f} ms")
        print(f"full decode of the video stream:            {decode_s * 1000:8.1f} ms")
        print(f"ratio: {probe_s / decode_s:.3f}")


if __name__ == "__main__":
    main()
