"""One HLS transcode run (PyAV in a worker thread): what a stopped or cancelled run leaves in
its folder (only whole segments), and that cancelling waits for the thread to leave."""

from __future__ import annotations

from pathlib import Path

import trio

from immich_trio.actors.video_stream.encoder import SegmentRun, run_in_worker_thread, scaled_size
from immich_trio.actors.video_stream.plan import VARIANTS, StreamInfo
from tests.http.hls_media import make_clip

H264_480 = VARIANTS[2]
# A 5 s clip at 30 fps: segments of 60, 60 and 30 frames.
INFO = StreamInfo(width=160, height=120, rotation=0, time_base=15360, packet_count=150,
                  total_duration=150 * 512, output_frames=150)  # fmt: skip


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix != ".m3u8")


def test_a_run_stopped_mid_segment_keeps_only_whole_segments(tmp_path: Path) -> None:
    make_clip(tmp_path / "clip.mp4", seconds=5)
    done: list[int] = []

    def stop_after_first(index: int) -> None:
        done.append(index)
        run.stop()

    run = SegmentRun(source=tmp_path / "clip.mp4", folder=tmp_path / "out", variant=H264_480, info=INFO,
                     start_segment=0, on_segment=stop_after_first)  # fmt: skip
    assert run.run() is False
    assert done == [0]
    # Closing the muxer early wrote the segment in progress as if whole; it was removed.
    assert _names(tmp_path / "out") == ["init.mp4", "seg_0.m4s"]


async def test_cancelling_a_run_returns_only_once_its_thread_has_left(tmp_path: Path) -> None:
    make_clip(tmp_path / "clip.mp4", seconds=5)
    token = trio.lowlevel.current_trio_token()
    first = trio.Event()
    seen: list[int] = []

    def on_segment(index: int) -> None:
        seen.append(index)
        trio.from_thread.run_sync(first.set, trio_token=token)

    run = SegmentRun(source=tmp_path / "clip.mp4", folder=tmp_path / "out", variant=H264_480, info=INFO,
                     start_segment=1, on_segment=on_segment)  # fmt: skip
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_in_worker_thread, run)
            await first.wait()
            nursery.cancel_scope.cancel()
    after = _names(tmp_path / "out")
    assert run.stop_flag.is_set()
    assert seen[0] == 1 and after[0] == "init.mp4" and "seg_0.m4s" not in after
    assert after == ["init.mp4", *[f"seg_{i}.m4s" for i in seen]]  # whole segments only


def test_scaling_follows_immich_short_side_rule() -> None:
    assert scaled_size(160, 120, 480) == (160, 120)  # never up
    assert scaled_size(1920, 1080, 720) == (1280, 720)
    assert scaled_size(1080, 1920, 720) == (720, 1280)
    assert scaled_size(161, 121, 480) == (160, 120)  # odd sides made even
