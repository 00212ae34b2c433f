"""HLS transcode speed: one variant of a 1080p H.264 clip (with sound) made by the streamer's
PyAV run, as a player would ask for it. Prints the time to the first segment and the speed
against real time. Run: ``PYTHONPATH=. python benchmarks/bench_hls.py [seconds]``."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from immich_trio.actors.video_stream.encoder import SegmentRun
from immich_trio.actors.video_stream.plan import VARIANTS, StreamInfo

FPS = 30


def make_source(path: Path, seconds: int) -> None:
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "g": str(FPS)})
        video.width, video.height, video.pix_fmt = 1920, 1080, "yuv420p"
        sound = out.add_stream("aac", rate=48_000, layout="stereo")
        ramp = np.linspace(0, 255, 1920, dtype=np.uint8)
        for i in range(seconds * FPS):
            picture = np.broadcast_to(np.roll(ramp, 8 * i), (1080, 1920)).copy()
            frame = av.VideoFrame.from_ndarray(np.stack([picture] * 3, axis=-1), format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for start in range(0, seconds * 48_000, 1024):
            tone = np.zeros((2, 1024), np.float32)
            chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="stereo")
            chunk.sample_rate, chunk.pts = 48_000, start
            for packet in sound.encode(chunk):
                out.mux(packet)
        for stream in (video, sound):
            for packet in stream.encode(None):
                out.mux(packet)


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    frames = seconds * FPS
    info = StreamInfo(width=1920, height=1080, rotation=0, time_base=15360, packet_count=frames,
                      total_duration=frames * 512, output_frames=frames)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source.mp4"
        make_source(source, seconds)
        print(f"source: 1920x1080 H.264 + AAC, {seconds} s at {FPS} fps")
        for index in (2, 5, 8):  # H.264 at 480, 720, 1080
            stamps: list[float] = []
            start = time.perf_counter()
            run = SegmentRun(source=source, folder=Path(tmp) / str(index), variant=VARIANTS[index],
                             info=info, start_segment=0,
                             on_segment=lambda n, seen=stamps: seen.append(time.perf_counter()))  # fmt: skip
            run.run()
            total = time.perf_counter() - start
            variant = VARIANTS[index]
            print(f"variant {index} ({variant.codec} {variant.resolution}p): first segment "
                  f"{stamps[0] - start:.2f} s, all {len(stamps)} in {total:.2f} s "
                  f"= {seconds / total:.1f}x real time")  # fmt: skip


if __name__ == "__main__":
    main()
