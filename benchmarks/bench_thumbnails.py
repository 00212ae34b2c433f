"""Thumbnail throughput: ``generate_image_thumbnails`` against the bare codecs doing the same
work minimal-style (decode with the same shrink-on-load, resize, encode preview + thumbnail,
write), on one core and on all cores.

    python benchmarks/bench_thumbnails.py [--rounds 3] [--images 4] [--assets DIR]
    python benchmarks/bench_thumbnails.py --dispatch [--rounds 4] [--images 4]

It generates a few 24 MP JPEGs in a temporary folder and also uses the test photos in tests/assets.
"Bare Pillow" is the floor our pipeline is built on; "bare pyvips" (formats it can read) is
the alternative decoder, shown for the choice between them. Rounds are interleaved and the
best round is kept, which damps noise from other processes on the machine.

``--dispatch`` compares how the actor runs the same work: A, in-process threads as before
(``run_in_background_thread`` around ``generate_image_thumbnails``), against B, codec worker
processes (workers.py: ``render_image_thumbnails`` in a reused worker, the files written by
the caller), rounds interleaved A B A B, 1 and N jobs at once; it prints B/A of the best rounds.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyvips
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from functools import partial

import trio

from immich_trio.actors.thumbnailer import ThumbnailOptions, generate_image_thumbnails
from immich_trio.actors.thumbnailer.codecs import render_image_thumbnails
from immich_trio.actors.thumbnailer.files import write_all
from immich_trio.actors.thumbnailer.workers import CodecWorkers, open_codec_workers
from immich_trio.reactor.background import run_in_background_thread

OPTIONS = ThumbnailOptions()
PREVIEW = OPTIONS.preview.size
THUMB = OPTIONS.thumbnail.size
TEST_ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets"
ASSET_SETS = {
    "assets-jpeg": ["albums/text/*.jpg", "albums/nature/*.jpg", "metadata/faces/*.jpg"],
    "assets-heic": ["formats/heic/*.heic", "formats/motionphoto/*.heic"],
    "assets-avif8": ["formats/avif/8bit-sRGB.avif"],
    "assets-png/webp": ["formats/png/*.png", "formats/webp/*.webp"],
    "assets-jxl8": ["formats/jxl/8bit-sRGB.jxl"],
}
PYVIPS_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".avif"}

Job = Callable[[Path, Path], None]


def make_large_jpegs(folder: Path, count: int) -> list[Path]:
    """Photo-like 24 MP JPEGs (smooth gradients, shapes, mild noise; not incompressible)."""
    rng = np.random.default_rng(7)
    paths = []
    for i in range(count):
        w, h = (6000, 4000) if i % 2 == 0 else (4000, 6000)
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack(
            [
                128 + 100 * np.sin(x / (300 + 40 * i)),
                128 + 100 * np.cos(y / (250 + 30 * i)),
                128 + 80 * np.sin((x + y) / 500),
            ],
            axis=-1,
        )
        base += rng.normal(0, 6, base.shape).astype(np.float32)
        pixels = np.clip(base, 0, 255).astype(np.uint8)
        path = folder / f"large-{i}.jpg"
        Image.fromarray(pixels).save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def _short_side(width: int, height: int, short: int) -> tuple[int, int]:
    if min(width, height) <= short:
        return width, height
    if width <= height:
        return short, round(height * short / width)
    return round(width * short / height), short


def ours(source: Path, out: Path) -> None:
    generate_image_thumbnails(
        source,
        preview_path=out / "p.jpeg",
        thumbnail_path=out / "t.webp",
        fullsize_path=None,
        options=OPTIONS,
    )


def bare_pillow(source: Path, out: Path) -> None:
    """Same decode (draft for JPEG), resize and encoders; no orientation, colour, alpha
    handling, thumbhash or atomic/fsynced writes."""
    image: Image.Image = Image.open(source)
    w, h = image.size
    if image.format == "JPEG" and min(w, h) > PREVIEW:
        scale = PREVIEW / min(w, h)
        image.draft(image.mode, (int(w * scale), int(h * scale)))
    image = image.convert("RGB")
    preview = image.resize(_short_side(w, h, PREVIEW), Image.Resampling.LANCZOS, reducing_gap=3.0)
    preview.save(out / "p.jpeg", "JPEG", quality=80, subsampling=0)
    thumb = preview.resize(_short_side(w, h, THUMB), Image.Resampling.LANCZOS, reducing_gap=3.0)
    thumb.save(out / "t.webp", "WEBP", quality=80)


def bare_pyvips(source: Path, out: Path) -> None:
    """libvips' own pipeline: thumbnail() shrinks on load, then the same two encodes."""
    probe = pyvips.Image.new_from_file(str(source))
    pw, ph = _short_side(probe.width, probe.height, PREVIEW)
    preview = pyvips.Image.thumbnail(str(source), pw, height=ph, size="down").copy_memory()
    preview.jpegsave(str(out / "p.jpeg"), Q=80, subsample_mode="off")
    tw, th = _short_side(probe.width, probe.height, THUMB)
    preview.thumbnail_image(tw, height=th).webpsave(str(out / "t.webp"), Q=80)


def run(job: Job, images: list[Path], threads: int, out_root: Path) -> float:
    """Images per second processing every image once per thread slot, in ``threads`` threads."""
    work = images * threads
    outs = [out_root / f"{job.__name__}-{i}" for i in range(len(work))]
    for o in outs:
        o.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if threads == 1:
        for src, o in zip(work, outs, strict=True):
            job(src, o)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(job, work, outs))
    return len(work) / (time.perf_counter() - start)


async def _dispatch_round(
    images: list[Path], out: Path, jobs: int, workers: CodecWorkers | None
) -> float:
    """Images per second thumbnailing every image once per job slot, ``jobs`` at a time."""
    limiter = trio.CapacityLimiter(jobs)
    work = images * jobs

    async def one(i: int, source: Path) -> None:
        folder = out / f"d{i}"
        paths = {
            "preview_path": folder / "p.jpeg",
            "thumbnail_path": folder / "t.webp",
            "fullsize_path": None,
        }
        if workers is None:  # A: in-process thread, as the actor did before
            render = partial(generate_image_thumbnails, source, **paths, options=OPTIONS)
            await run_in_background_thread(render, limiter=limiter)
        else:  # B: a codec worker renders, the caller writes (actor.py's _render)
            job = partial(render_image_thumbnails, source, **paths, options=OPTIONS)
            rendered = await workers.run(job, limiter=limiter, what=source.name)
            await trio.to_thread.run_sync(write_all, rendered.outputs)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for i, source in enumerate(work):
            nursery.start_soon(one, i, source)
    return len(work) / (time.perf_counter() - start)


async def dispatch(sets: dict[str, list[Path]], rounds: int, out: Path) -> None:
    ncpu = len(os.sched_getaffinity(0))
    print(f"{ncpu} CPUs; rounds={rounds} (A B A B); img/s, best round")
    print(f"{'set':16} {'n':>3} {'jobs':>4} {'A threads':>10} {'B workers':>10} {'B/A':>6}")
    ratios = []
    async with open_codec_workers() as workers:
        await workers.run(partial(sorted, [1]), limiter=trio.CapacityLimiter(ncpu), what="warm-up")
        for name, images in sets.items():
            for jobs in (1, ncpu):
                # Warm up B's workers for this concurrency; A has nothing to warm.
                await _dispatch_round(images[:1], out, jobs, workers)
                best_a = best_b = 0.0
                for _ in range(rounds):
                    best_a = max(best_a, await _dispatch_round(images, out, jobs, None))
                    best_b = max(best_b, await _dispatch_round(images, out, jobs, workers))
                print(f"{name:16} {len(images):>3} {jobs:>4} {best_a:>10.2f} {best_b:>10.2f}"
                      f" {best_b / best_a:>6.3f}")  # fmt: skip
                ratios.append(best_b / best_a)
        hop_a, hop_b = await _hop_costs(workers)
    print(f"geometric mean of B/A: {math.prod(ratios) ** (1 / len(ratios)):.3f}")
    print(f"cost of one job's hop (an empty job answering 400 KB, median of {HOPS}):"
          f" A thread {hop_a * 1000:.2f} ms, B worker {hop_b * 1000:.2f} ms")  # fmt: skip


HOPS = 200


async def _hop_costs(workers: CodecWorkers) -> tuple[float, float]:
    """Median seconds of the dispatch alone, without codec work: what B adds per job is the
    difference (pickling, the pipe, the worker's wake-up), independent of the machine's load
    far more than the img/s above."""
    job = partial(bytes, 400_000)  # about a preview + thumbnail's encoded size
    limiter = trio.CapacityLimiter(1)
    a, b = [], []
    for _ in range(HOPS):
        start = time.perf_counter()
        await run_in_background_thread(job, limiter=limiter)
        a.append(time.perf_counter() - start)
        start = time.perf_counter()
        await workers.run(job, limiter=limiter, what="hop")
        b.append(time.perf_counter() - start)
    return sorted(a)[HOPS // 2], sorted(b)[HOPS // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=4, help="generated 24 MP JPEGs")
    parser.add_argument("--assets", type=Path, default=TEST_ASSETS)
    parser.add_argument("--dispatch", action="store_true", help="threads vs codec workers")
    args = parser.parse_args()
    if args.dispatch:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            sets = {"24MP-jpeg": make_large_jpegs(root, args.images)}
            for name, patterns in ASSET_SETS.items():
                found = sorted(p for pattern in patterns for p in args.assets.glob(pattern))
                if found:
                    sets[name] = found
            trio.run(dispatch, sets, args.rounds, root / "out")
        return
    pyvips.cache_set_max(0)
    all_cpus = os.sched_getaffinity(0)
    ncpu = len(all_cpus)
    one_cpu = {min(all_cpus)}

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sets: dict[str, list[Path]] = {"24MP-jpeg": make_large_jpegs(root, args.images)}
        for name, patterns in ASSET_SETS.items():
            files = sorted(p for pattern in patterns for p in args.assets.glob(pattern))
            if files:
                sets[name] = files
        print(f"{ncpu} CPUs; libvips {pyvips.version(0)}.{pyvips.version(1)}; rounds={args.rounds}")
        print(f"{'set':16} {'n':>3} {'impl':12} {'1 core img/s':>13} {f'{ncpu} thr img/s':>13}"
              f" {'ours/pillow':>11} {'ours/pyvips':>11}")  # fmt: skip
        for name, images in sets.items():
            jobs: list[Job] = [ours, bare_pillow]
            if all(p.suffix.lower() in PYVIPS_SUFFIXES for p in images):
                jobs.append(bare_pyvips)
            best: dict[tuple[str, int], float] = {}
            for _ in range(args.rounds):
                for threads, cpus in ((1, one_cpu), (ncpu, all_cpus)):
                    os.sched_setaffinity(0, cpus)
                    pyvips.concurrency_set(len(cpus))  # libvips' own worker threads
                    for job in jobs:
                        key = (job.__name__, threads)
                        rate = run(job, images, threads, root / "out")
                        best[key] = max(best.get(key, 0.0), rate)
            os.sched_setaffinity(0, all_cpus)
            for job in jobs:
                one, many = best[(job.__name__, 1)], best[(job.__name__, ncpu)]
                ratios = ""
                if job is ours:
                    ratios = f"{one / best[('bare_pillow', 1)]:>6.2f}/{many / best[('bare_pillow', ncpu)]:<4.2f}"
                    if ("bare_pyvips", 1) in best:
                        ratios += f" {one / best[('bare_pyvips', 1)]:>6.2f}/{many / best[('bare_pyvips', ncpu)]:<4.2f}"
                print(
                    f"{name:16} {len(images):>3} {job.__name__:12} {one:>13.2f} {many:>13.2f}  {ratios}"
                )
        print("ratios: 1-core/N-thread")


if __name__ == "__main__":
    main()
