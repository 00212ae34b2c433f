"""One transcode run of an HLS variant with PyAV (FFmpeg's libraries in-process): decode the
original from the keyframe before segment K, re-time it to a constant frame rate, encode with a
keyframe exactly at every segment boundary (the first audio stream as AAC stereo beside it), and
let libavformat's HLS muxer write ``init.mp4`` and ``seg_K.m4s``, ``seg_K+1.m4s``... (fragmented
MP4, each renamed into place when complete). Timestamps stay on the source's timeline (Immich's
``-copyts``), so segments of runs started at different places join up.

Blocking: ``SegmentRun.run`` is meant for a worker thread. It checks its stop flag between
frames, waits while paused (backpressure), reports each finished segment through a callback,
and on stop or failure removes what it left incomplete, so a later run can take over the folder.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import attrs
import av
import trio
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.video.frame import PictureType, VideoFrame

from immich_trio.actors.transcoder.tonemap import HDR_TRANSFERS, tone_map_to_sdr
from immich_trio.actors.video_stream.plan import (
    CRF,
    INIT_FILENAME,
    SEGMENT_SECONDS,
    StreamInfo,
    Variant,
    segment_filename,
    segmentation,
)

log = logging.getLogger(__name__)

ENCODERS = {"h264": "libx264", "hevc": "libx265", "av1": "libsvtav1"}
_MAX_RATIONAL = 2**31 - 1


@attrs.frozen(kw_only=True)
class EncodeSettings:
    """The parts of the system config's ``ffmpeg`` section a live transcode follows."""

    preset: str = "ultrafast"
    threads: int = 0
    bframes: int = -1
    refs: int = 0
    # ``ffmpeg.tonemap``: the curve for HDR (PQ/HLG) sources, or "disabled".
    tonemap: str = "hable"


def _rational(value: Fraction) -> Fraction:
    if value.numerator > _MAX_RATIONAL or value.denominator > _MAX_RATIONAL:
        return value.limit_denominator(_MAX_RATIONAL // max(1, int(value) + 1))
    return value


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def scaled_size(width: int, height: int, resolution: int) -> tuple[int, int]:
    """Immich's ``scale=-2:<res>`` (or ``<res>:-2`` when vertical), applied only when the
    short side is above the target or a side is odd."""
    if min(width, height) <= resolution and width % 2 == 0 and height % 2 == 0:
        return width, height
    target = min(resolution, min(width, height))
    target -= target % 2
    if height > width:
        return target, _even(height * target / width)
    return _even(width * target / height), target


def encoder_options(variant: Variant, gop: int, settings: EncodeSettings) -> dict[str, str]:
    options = {
        "preset": settings.preset,
        "crf": str(CRF[variant.codec]),
        "maxrate": f"{round(variant.bitrate / 1000)}k",
        "bufsize": f"{2 * round(variant.bitrate / 1000)}k",
        "g": str(gop),
        "keyint_min": str(gop),
    }
    if settings.threads > 0:
        options["threads"] = str(settings.threads)
    if settings.bframes > -1:
        options["bf"] = str(settings.bframes)
    if settings.refs > 0:
        options["refs"] = str(settings.refs)
    if variant.codec == "h264":
        options["sc_threshold"] = "0"
    elif variant.codec == "hevc":
        options["x265-params"] = (
            f"no-scenecut=1:no-open-gop=1:keyint={gop}:min-keyint={gop}:log-level=error"
        )
    elif variant.codec == "av1":
        del options["maxrate"], options["bufsize"]
        options["preset"] = "12"
        options["svtav1-params"] = "hierarchical-levels=3:lookahead=0:enable-tf=0"
    return options


@attrs.define(kw_only=True)
class SegmentRun:
    """Segments ``start_segment`` onwards of one variant, into ``folder``."""

    source: Path
    folder: Path
    variant: Variant
    info: StreamInfo
    start_segment: int
    settings: EncodeSettings = EncodeSettings()
    on_segment: Callable[[int], None]
    """Called from the worker thread once ``seg_<n>.m4s`` is complete on disk."""
    stop_flag: threading.Event = attrs.field(factory=threading.Event)
    running: threading.Event = attrs.field(factory=threading.Event)
    next_segment: int = attrs.field(init=False)
    _frame_time_base: Fraction = attrs.field(init=False, default=Fraction(1, 30))
    _upright: _Upright | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self.running.set()
        self.next_segment = self.start_segment

    # -- controls, callable from any thread ---------------------------------------------
    def stop(self) -> None:
        self.stop_flag.set()
        self.running.set()

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    # -- the worker thread ----------------------------------------------------------------
    def run(self) -> bool:
        """Encode until the last segment (True) or until stopped (False); raises on a file
        FFmpeg cannot read or an encoder it lacks, with what FFmpeg said."""
        self.folder.mkdir(parents=True, exist_ok=True)
        finished = False
        try:
            finished = self._encode()
        finally:
            if finished:
                self._report_finished()
            else:
                self._remove_incomplete()
        return finished

    def _encode(self) -> bool:
        seg = segmentation(self.info)
        gop = seg.frames_per_segment
        fps = _rational(seg.fps)
        first_slot = self.start_segment * gop
        options = {
            "hls_time": str(SEGMENT_SECONDS),
            "hls_list_size": "0",
            "hls_segment_type": "fmp4",
            "hls_fmp4_init_filename": INIT_FILENAME,
            "hls_segment_options": "movflags=+frag_discont",
            "hls_flags": "temp_file",
            "hls_segment_filename": str(self.folder / "seg_%d.m4s"),
            "start_number": str(self.start_segment),
            "avoid_negative_ts": "disabled",
        }
        with av.open(str(self.source)) as src:
            video = src.streams.video[0]
            video.thread_type = "AUTO"
            source_audio = src.streams.audio[0] if src.streams.audio else None
            with av.open(
                str(self.folder / "playlist.m3u8"), "w", format="hls", options=options
            ) as dst:
                out: Any = dst.add_stream(
                    ENCODERS[self.variant.codec],
                    rate=fps,
                    options=encoder_options(self.variant, gop, self.settings),
                )
                self._upright = _Upright(_first_frame(self.source))
                out.width, out.height = scaled_size(*self._upright.size, self.variant.resolution)
                out.pix_fmt = "yuv420p"
                self._frame_time_base = 1 / fps
                out.time_base = self._frame_time_base
                if self.variant.codec == "hevc":
                    out.codec_tag = "hvc1"
                sound = None
                if source_audio is not None:
                    window = (float(first_slot / fps), float(self.info.output_frames / fps))
                    sound = _AudioTrack(dst, source_audio, window)
                if first_slot > 0 and video.time_base is not None:
                    seek_seconds = (first_slot - 0.5) / fps
                    src.seek(int(seek_seconds / video.time_base), stream=video, backward=True)
                slot = first_slot
                last: VideoFrame | None = None
                streams = (video,) if source_audio is None else (video, source_audio)
                for packet in src.demux(*streams):
                    if self.stop_flag.is_set() or not self._wait_running():
                        return False
                    if sound is not None and packet.stream is source_audio:
                        sound.add(packet)
                        continue
                    for frame in packet.decode():
                        assert isinstance(frame, VideoFrame)
                        if frame.time is None or slot >= self.info.output_frames:
                            continue
                        frame_slot = int(frame.time * fps + Fraction(1, 2))
                        if frame_slot < slot:
                            last = frame
                            continue
                        while slot < frame_slot and slot < self.info.output_frames and last:
                            slot = self._emit(dst, out, last, slot, gop)
                        if slot < self.info.output_frames:
                            slot = self._emit(dst, out, frame, slot, gop)
                        last = frame
                while last is not None and slot < self.info.output_frames:  # pad a short tail
                    slot = self._emit(dst, out, last, slot, gop)
                for video_packet in out.encode(None):
                    dst.mux(video_packet)
                if sound is not None:
                    sound.flush()
        return True

    def _wait_running(self) -> bool:
        self.running.wait()
        return not self.stop_flag.is_set()

    def _emit(self, dst: Any, out: Any, frame: VideoFrame, slot: int, gop: int) -> int:
        upright = self._upright.turn(frame) if self._upright is not None else frame
        transfer = int(frame.color_trc or 0)
        if transfer in HDR_TRANSFERS and self.settings.tonemap != "disabled":
            # As the transcoder (Immich's tonemapx): to BT.709 SDR, full range.
            signal = upright.reformat(width=out.width, height=out.height, format="rgb48le")
            picture = tone_map_to_sdr(signal, transfer, self.settings.tonemap)
        else:
            picture = upright.reformat(width=out.width, height=out.height, format="yuv420p")
        picture.pts = slot
        picture.time_base = self._frame_time_base
        picture.pict_type = PictureType.I if slot % gop == 0 else PictureType.NONE
        for packet in out.encode(picture):
            dst.mux(packet)
        self._report_finished()
        return slot + 1

    def _report_finished(self) -> None:
        while (self.folder / segment_filename(self.next_segment)).exists():
            done = self.next_segment
            self.next_segment += 1
            self.on_segment(done)

    def _remove_incomplete(self) -> None:
        """Closing the muxer early writes the segment in progress as if it were whole: remove
        it (and anything later or temporary) so no request is ever served a short segment."""
        for path in self.folder.iterdir():
            name = path.name
            if name.endswith(".tmp"):
                path.unlink(missing_ok=True)
            elif (
                name.startswith("seg_")
                and name.endswith(".m4s")
                and int(name[4:-4]) >= self.next_segment
            ):
                path.unlink(missing_ok=True)


class _AudioTrack:
    """The first audio stream, as AAC stereo at its own sample rate (Immich's ``-c:a aac
    -ac 2``), kept to the window of the video being produced, on the source's timeline."""

    def __init__(self, dst: Any, source: Any, window: tuple[float, float]) -> None:
        self._dst = dst
        rate = int(source.codec_context.sample_rate or 48_000)
        self._rate = rate
        self._out: Any = dst.add_stream("aac", rate=rate, layout="stereo")
        self._resampler = AudioResampler(format="fltp", layout="stereo", rate=rate)
        self._start, self._end = window

    def add(self, packet: Any) -> None:
        for frame in packet.decode():
            if frame.time is None or frame.sample_rate <= 0:
                continue
            if (
                frame.time + frame.samples / frame.sample_rate <= self._start
                or frame.time >= self._end
            ):
                continue
            frame.pts = round(frame.time * frame.sample_rate)
            frame.time_base = Fraction(1, frame.sample_rate)
            self._encode(self._resampler.resample(frame))

    def flush(self) -> None:
        self._encode(self._resampler.resample(None))
        for packet in self._out.encode(None):
            self._dst.mux(packet)

    def _encode(self, frames: list[AudioFrame]) -> None:
        for frame in frames:
            for packet in self._out.encode(frame):
                self._dst.mux(packet)


def _first_frame(source: Path) -> VideoFrame:
    """The first picture of ``source``: its display rotation and size decide the output's."""
    with av.open(str(source)) as container:
        for frame in container.decode(video=0):
            return frame
    raise ValueError("no video frame in the file")


class _Upright:
    """Turns frames the way their display matrix says (FFmpeg's autorotate): a phone's portrait
    video, stored landscape with a 90° rotation, comes out portrait."""

    _FILTERS: ClassVar[dict[int, tuple[tuple[str, str], ...]]] = {
        90: (("transpose", "dir=clock"),),
        180: (("hflip", ""), ("vflip", "")),
        270: (("transpose", "dir=cclock"),),
    }

    def __init__(self, first: VideoFrame) -> None:
        turn = round(-first.rotation) % 360 if first.rotation else 0
        self._graph: Any = None
        self.size = (first.width, first.height)
        if turn in self._FILTERS:
            graph = av.filter.Graph()
            node: Any = graph.add_buffer(
                width=first.width,
                height=first.height,
                format=first.format,
                time_base=Fraction(1, 1000),
            )
            for name, args in self._FILTERS[turn]:
                step = graph.add(name, args)
                node.link_to(step)
                node = step
            node.link_to(graph.add("buffersink"))
            graph.configure()
            self._graph = graph
            if turn != 180:
                self.size = (first.height, first.width)

    def turn(self, frame: VideoFrame) -> VideoFrame:
        if self._graph is None:
            return frame
        self._graph.push(frame)
        turned: VideoFrame = self._graph.pull()
        return turned


async def run_in_worker_thread(run: SegmentRun) -> bool:
    """``run.run()`` in a worker thread; cancelling this stops the run and waits for the
    thread to leave (between two frames), so nothing writes after it returns. Raises what the
    run raised."""
    outcome: list[bool | Exception] = []

    def work() -> None:
        try:
            outcome.append(run.run())
        except Exception as exc:  # carried out of the nursery as itself, not in a group
            outcome.append(exc)

    async with trio.open_nursery() as nursery:

        async def stop_when_cancelled() -> None:
            try:
                await trio.sleep_forever()
            finally:
                run.stop()

        nursery.start_soon(stop_when_cancelled)
        await trio.to_thread.run_sync(work)
        nursery.cancel_scope.cancel()
    [result] = outcome
    if isinstance(result, Exception):
        raise result
    return result
