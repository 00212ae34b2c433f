"""A 4K video's thumbnails (preview JPEG, thumbnail WebP, thumbhash) against bare PyAV decodes.

    PYTHONPATH=. python benchmarks/bench_video_thumbnail.py [--seconds 6] [--rounds 5]

Makes a 3840x2160 H.264 clip with PyAV (a key frame every second, moving gradients), then times,
in alternation (A B C A B C ...), median of ``--rounds``:

A. ``generate_video_thumbnails``: the frame choice (key frames decoded, black ones dropped, the one
   nearest the mean histogram of up to 12), the resize, both encodes and the thumbhash;
B. the bare decode of the chosen frame alone (seek to it, decode one frame: the floor for any
   thumbnail of that frame);
C. the bare decode of the frames the choice reads (the same key frames, nothing done with them):
   the floor Immich's rule imposes (12 lit key frames compared), so A/B cannot go below C/B.

A/B is the issue's ratio (goal ≤ 1.2); A/C is what the choice and the encodes add to the decode
they need. CPU time (all threads) is printed beside the wall time: on a loaded machine it moves
less.

Measured on the shared 2-core machine under load (load average 4-7), wall medians, before =
commit 7284079 (every one of the first 48 key frames decoded and held: 17 here), after = the
choice stopping at 12 lit key frames, holding their packets, not their frames; ``--rounds 9``
of both alternated in one process on the same clip:

    ============  ==========  ==========  ==========  =====  =====  =====
    (ms)          A           B           C           A/B    A/C    C/B
    ============  ==========  ==========  ==========  =====  =====  =====
    before        724 (389)   168 (75)    265 (144)   4.31   2.73   1.58
    after         491 (225)   168 (75)    231 (113)   2.92   2.12   1.38
    ============  ==========  ==========  ==========  =====  =====  =====

(CPU ms in brackets.) This script alone, after (``--rounds 5``, load 7): A 430 (265), B 176
(71), C 227 (136) ms, A/B 2.45, A/C 1.90; before, quieter (load 2), earlier the same day: A 319,
B 61, C 162 ms, A/B 5.23. The goal of 1.2 is out of reach while the rule decodes 12 key frames where B decodes
one: C/B is 1.4-2.7 depending on load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from immich_trio.actors.thumbnailer import video as thumbs
from immich_trio.actors.thumbnailer.options import ThumbnailOptions
from tests.actors.video_samples import make_video


def chosen_frame_only(source: Path, pts: int) -> None:
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        container.seek(pts, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            if frame.pts is not None and frame.pts >= pts:
                return


def keyframes_read(source: Path, count: int) -> None:
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = "NONKEY"
        for decoded, _ in enumerate(container.decode(stream), start=1):
            if decoded >= count:
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-video-thumb-"))
    fps = 30
    started = time.perf_counter()
    source = make_video(
        folder / "uhd.mp4", width=3840, height=2160, fps=fps, frames=args.seconds * fps, gop=fps,
        colour=lambda i: (40 + i % 200, 90, 200 - i % 150), right=lambda i: (200, 40 + i % 180, 60),
    )  # fmt: skip
    print(f"made {source.stat().st_size / 1e6:.1f} MB 4K clip ({args.seconds} s) in {time.perf_counter() - started:.1f} s")
    pts = thumbs._representative_frame(source).pts
    assert pts is not None
    container, stream = thumbs._open(source, keyframes_only=True)
    with container:
        read = thumbs._candidates(container, stream)[1]
    print(f"the choice decodes {read} key frames")
    options = ThumbnailOptions()

    def ours() -> None:
        thumbs.generate_video_thumbnails(
            source, preview_path=folder / "p.jpeg", thumbnail_path=folder / "t.webp", options=options
        )

    runs: dict[str, list[float]] = {"A ours": [], "B chosen frame": [], "C key frames read": []}
    steps: list[tuple[str, Callable[[], None]]] = [
        ("A ours", ours),
        ("B chosen frame", lambda: chosen_frame_only(source, pts)),
        ("C key frames read", lambda: keyframes_read(source, read)),
    ]
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, step in steps:
            t, c = time.perf_counter(), time.process_time()
            step()
            runs[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    medians = {name: statistics.median(times) * 1000 for name, times in runs.items()}
    for name, ms in medians.items():
        print(f"{name:20} {ms:8.1f} ms   (CPU, all threads: {statistics.median(cpu[name]) * 1000:6.1f} ms)")
    print(f"A/B (goal <= 1.2): {medians['A ours'] / medians['B chosen frame']:.2f}")
    print(f"A/C: {medians['A ours'] / medians['C key frames read']:.2f}")


if __name__ == "__main__":
    main()
