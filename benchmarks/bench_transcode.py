"""Transcoding benchmark: a 1080p HEVC clip to Immich's default target (h264, 720p short side,
preset ultrafast, CRF 23, audio copied), our PyAV encoder against the ``ffmpeg`` command line
doing the same encode, and ``/api/server/ping`` latency on the real server while it transcodes.

    python benchmarks/bench_transcode.py [--seconds 6] [--rounds 2] [--skip-server]

Part 1 runs A B A B (ours, ffmpeg, ours, ffmpeg...) on one generated clip and prints each run,
the medians and the ratio ffmpeg time / our time (>= 1 means we are as fast or faster). The
``ffmpeg`` arguments are ``plan.ffmpeg_arguments`` of the same plan (Debian's ffmpeg; install
it with ``apt-get install ffmpeg``; without it the comparison is skipped).
Part 2 starts ``immich-trio serve`` (embedded PostgreSQL, temporary media folder), uploads the
clip, waits for its pipeline, then queues ``transcode-video`` for it and pings
``/api/server/ping`` on one keep-alive connection until the queue is idle again: p50, p99, max.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_upload import call, free_port, stop_server, wait_ready

from immich_trio.actors.metadata.stream_probe import probe_streams
from immich_trio.actors.transcoder.actor import _streams
from immich_trio.actors.transcoder.encode import run_plan
from immich_trio.actors.transcoder.plan import EncodePlan, encode_plan, ffmpeg_arguments
from immich_trio.actors.transcoder.policy import transcode_target
from immich_trio.actors.transcoder.settings import FfmpegSettings

FPS = 30
RATE = 48000


def make_clip(path: Path, seconds: int) -> Path:
    """1920x1080 HEVC (libx265, 8-bit 4:2:0, medium-ish detail, moving) with stereo AAC."""
    frames = seconds * FPS
    h, w = 1080, 1920
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(3)
    grain = rng.integers(0, 24, (h, w, 1), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx265", rate=FPS)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.options = {"x265-params": "log-level=error", "preset": "ultrafast", "crf": "20"}
        sound = out.add_stream("aac", rate=RATE)
        sound.layout = "stereo"
        for i in range(frames):
            t = i / FPS
            rgb = np.stack([
                128 + 100 * np.sin((x + 40 * t * 30) / 180),
                128 + 100 * np.cos((y - 25 * t * 30) / 140),
                128 + 80 * np.sin((x + y) / 300 + t),
            ], axis=-1).astype(np.uint8)
            rgb = np.clip(rgb.astype(np.int16) + grain - 12, 0, 255).astype(np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(video.encode())
        samples = RATE * seconds
        tone = (np.sin(np.arange(samples) * 0.03) * 0.2).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = np.stack([tone[start : start + 1024]] * 2)
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = RATE, start, Fraction(1, RATE)
            out.mux(sound.encode(af))
        out.mux(sound.encode())
    return path


def default_plan(source: Path) -> tuple[EncodePlan, int]:
    probe = probe_streams(str(source), keyframes=False)
    video, audio, _ = _streams(probe)
    settings = FfmpegSettings()
    return encode_plan(settings, transcode_target(settings, video, audio), video, audio), video.rotation


def ours(source: Path, output: Path, plan: EncodePlan, rotation: int) -> float:
    start = time.perf_counter()
    run_plan(source, output, plan, rotation=rotation, stop=threading.Event())
    return time.perf_counter() - start


def ffmpeg(source: Path, output: Path, plan: EncodePlan) -> float:
    args = ["ffmpeg", "-hide_banner", "-v", "error", *ffmpeg_arguments(plan, str(source), str(output))]
    start = time.perf_counter()
    subprocess.run(args, check=True)
    return time.perf_counter() - start


def compare(source: Path, work: Path, rounds: int) -> None:
    plan, rotation = default_plan(source)
    print("plan:", " ".join(ffmpeg_arguments(plan, "IN", "OUT")))
    have_ffmpeg = shutil.which("ffmpeg") is not None
    if not have_ffmpeg:
        print("ffmpeg not installed: only our encoder is timed")
    a: list[float] = []
    b: list[float] = []
    for r in range(rounds):
        a.append(ours(source, work / f"ours{r}.mp4", plan, rotation))
        print(f"round {r + 1}  ours (PyAV)   {a[-1]:6.2f} s", flush=True)
        if have_ffmpeg:
            b.append(ffmpeg(source, work / f"ffmpeg{r}.mp4", plan))
            print(f"round {r + 1}  ffmpeg CLI    {b[-1]:6.2f} s", flush=True)
    ours_median = statistics.median(a)
    print(f"median ours          {ours_median:6.2f} s")
    if b:
        ffmpeg_median = statistics.median(b)
        print(f"median ffmpeg        {ffmpeg_median:6.2f} s")
        print(f"ratio ffmpeg/ours    {ffmpeg_median / ours_median:6.3f}  (>= 0.95 wanted)")
        for name in ("ours0.mp4", "ffmpeg0.mp4"):
            with av.open(str(work / name)) as c:
                v = c.streams.video[0].codec_context
                print(f"  {name:12s} {v.name} {v.width}x{v.height} {(work / name).stat().st_size / 1e6:.2f} MB")


def ping_during_transcode(source: Path, work: Path) -> None:
    media = work / "media"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "IMMICH_MEDIA_LOCATION": str(media), "IMMICH_PORT": str(port), "IMMICH_HOST": "127.0.0.1"}
    env.pop("DB_URL", None)
    log_file = (work / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "immich_trio", "serve"], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_ready(base, proc)
        call(base, "POST", "/api/auth/admin-sign-up", {"email": "a@example.com", "password": "admin", "name": "A"})
        token = call(base, "POST", "/api/auth/login", {"email": "a@example.com", "password": "admin"})["accessToken"]
        auth = {"Authorization": f"Bearer {token}"}
        out = subprocess.run(
            ["curl", "-sS", "--fail-with-body", "-H", f"Authorization: Bearer {token}",
             "-F", f"assetData=@{source};filename=clip.mp4;type=video/mp4", "-F", "deviceAssetId=clip",
             "-F", "deviceId=bench", "-F", "fileCreatedAt=2024-01-01T00:00:00.000Z",
             "-F", "fileModifiedAt=2024-01-01T00:00:00.000Z", f"{base}/api/assets"],
            capture_output=True, check=True,
        )
        asset_id = __import__("json").loads(out.stdout)["id"]
        wait_idle(base, auth)
        call(base, "POST", "/api/assets/jobs", {"assetIds": [asset_id], "name": "transcode-video"}, auth)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies: list[float] = []
        start = time.perf_counter()
        saw_active = False
        while True:
            for _ in range(20):
                t0 = time.perf_counter()
                conn.request("GET", "/api/server/ping")
                conn.getresponse().read()
                latencies.append(time.perf_counter() - t0)
            counts = call(base, "GET", "/api/jobs", headers=auth)["videoConversion"]["jobCounts"]
            busy = counts["active"] + counts["waiting"]
            saw_active = saw_active or counts["active"] > 0
            if busy == 0:
                break
        elapsed = time.perf_counter() - start
        ms = sorted(x * 1000 for x in latencies)
        p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
        print(f"server transcode     {elapsed:6.2f} s  (job seen active: {saw_active})")
        print(f"ping during it       n={len(ms)}  p50 {p(0.5):.1f} ms  p99 {p(0.99):.1f} ms  max {ms[-1]:.1f} ms")
    finally:
        stop_server(proc)
        log_file.close()


def wait_idle(base: str, auth: dict[str, str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = call(base, "GET", "/api/jobs", headers=auth)
        if all(q["jobCounts"]["active"] + q["jobCounts"]["waiting"] == 0 for q in jobs.values()):
            return
        time.sleep(0.5)
    raise SystemExit("pipeline did not finish")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-transcode-"))
    try:
        print(f"making a {args.seconds} s 1080p HEVC clip ...", flush=True)
        source = make_clip(work / "clip.mp4", args.seconds)
        print(f"clip {source.stat().st_size / 1e6:.1f} MB, {args.seconds * FPS} frames; cores {os.cpu_count()}")
        compare(source, work, args.rounds)
        if not args.skip_server:
            ping_during_transcode(source, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
