"""Run an ``EncodePlan`` with PyAV (FFmpeg's libraries in-process): what Immich's
``ffmpeg`` command does, into an MP4 with the ``moov`` atom first (``faststart``).

Synchronous; the actor runs it in a low-priority worker thread and may ask it to stop
through ``stop`` (checked between packets). The output is written to the path given, which
the caller makes a temporary name and renames on success; on any error the partial file is
removed here before the exception leaves.

- Video: decoded frames are turned upright (the display matrix, as ffmpeg's autorotate),
  scaled to the plan's size, converted to 4:2:0 and encoded with the plan's options;
  timestamps pass through (``-fps_mode passthrough``). Copied when only audio is encoded.
- HDR sources under a tone-mapping setting: frames are read as 16-bit RGB at the output
  size, tone-mapped to SDR with the setting's curve (tonemap.py, Immich's ``tonemapx``
  arguments) and encoded as full-range BT.709.
- Audio: the first audio stream, re-encoded to the target codec in stereo, or copied.
- Two-pass (libx264, libx265): a first pass writes the encoder's own stats file, the second
  reads it. libvpx-vp9 and libsvtav1 hand their stats through ``AVCodecContext.stats_out``
  / ``stats_in``, which PyAV does not expose: they run one pass (logged).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import av.error
from av.codec.context import Flags
from av.video.frame import PictureType
from av.video.reformatter import ColorRange

from .plan import MAX_AUDIO_CHANNELS, EncodePlan
from .tonemap import tone_map_to_sdr

__all__ = ["TranscodeError", "TranscodeStopped", "run_plan"]

log = logging.getLogger(__name__)

BT709 = 1
OPUS_RATE = 48000
TWO_PASS_ENCODERS = frozenset({"libx264", "libx265"})
_TRANSPOSE = {90: ["transpose=cclock"], 270: ["transpose=clock"], 180: ["hflip", "vflip"]}


class TranscodeError(Exception):
    """FFmpeg refused the input or the encode; ``reason`` is its message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TranscodeStopped(Exception):
    """``stop`` was set: the encode was abandoned and its partial output removed."""


def run_plan(source: Path, output: Path, plan: EncodePlan, *, rotation: int, stop: threading.Event) -> None:
    """Encode ``source`` to ``output`` per ``plan`` (two passes when the plan says so and
    the encoder keeps its own stats)."""
    stats = output.with_name(output.name + ".stats")
    two_pass = plan.two_pass and plan.video_encoder in TWO_PASS_ENCODERS
    if plan.two_pass and not two_pass:
        log.info("transcode: %s keeps no stats file PyAV can pass on; one pass", plan.video_encoder)
    try:
        if two_pass:
            _encode(source, None, plan, rotation=rotation, stop=stop, pass_no=1, stats=stats)
        _encode(source, output, plan, rotation=rotation, stop=stop, pass_no=2 if two_pass else 0, stats=stats)
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    finally:
        for leftover in output.parent.glob(f"{stats.name}*"):
            leftover.unlink(missing_ok=True)


def _encode(
    source: Path, output: Path | None, plan: EncodePlan, *, rotation: int, stop: threading.Event,
    pass_no: int, stats: Path,
) -> None:
    try:
        with av.open(str(source), mode="r", metadata_errors="ignore") as inp:
            target: Any = str(output) if output is not None else os.devnull
            fmt = "mp4" if output is not None else "null"
            options = {"movflags": "faststart"} if output is not None else {}
            with av.open(target, mode="w", format=fmt, options=options) as out:
                _Job(inp, out, plan, rotation, pass_no, stats).run(stop)
    except (av.error.FFmpegError, ValueError, MemoryError) as exc:
        raise TranscodeError(f"{source.name}: {exc}") from exc


class _Job:
    """One pass: the streams of ``inp`` mapped into ``out``."""

    def __init__(
        self, inp: Any, out: Any, plan: EncodePlan, rotation: int, pass_no: int, stats: Path
    ) -> None:
        self.inp, self.out, self.plan = inp, out, plan
        self.v_in = inp.streams[plan.video_index]
        self.a_in = inp.streams[plan.audio_index] if plan.audio_index is not None else None
        self.v_in.thread_type = "AUTO"
        self.v_out = self._video_stream(rotation, pass_no, stats)
        self.a_out = self._audio_stream() if self.a_in is not None else None
        self.graph: Any = None
        self.rotation = rotation
        self.transfer = int(self.v_in.codec_context.color_trc or 16)

    # -- streams -----------------------------------------------------------------------

    def _video_stream(self, rotation: int, pass_no: int, stats: Path) -> Any:
        plan, v_in = self.plan, self.v_in
        if plan.video_encoder is None:
            stream = self.out.add_stream_from_template(v_in)
            if plan.hvc1_tag:
                stream.codec_tag = "hvc1"
            return stream
        rate = v_in.average_rate or v_in.guessed_rate or 30
        stream = self.out.add_stream(plan.video_encoder, rate=rate)
        if plan.width is not None and plan.height is not None:
            stream.width, stream.height = plan.width, plan.height
        else:
            w, h = v_in.codec_context.width, v_in.codec_context.height
            stream.width, stream.height = (h, w) if rotation % 360 in (90, 270) else (w, h)
        stream.pix_fmt = "yuv420p"
        stream.time_base = v_in.time_base
        ctx = stream.codec_context
        ctx.time_base = v_in.time_base
        if plan.tone_map is not None:
            ctx.color_primaries, ctx.color_trc, ctx.colorspace = BT709, BT709, BT709
            ctx.color_range = int(ColorRange.JPEG)  # r=pc
        options = _codec_options(plan)
        if "q:v" in options:  # constant quantiser (cqMode cqp), as ffmpeg's -q:v
            ctx.flags |= Flags.qscale
            ctx.global_quality = int(options.pop("q:v")) * 118
        if pass_no:
            ctx.flags |= Flags.pass1 if pass_no == 1 else Flags.pass2
            if plan.video_encoder == "libx264":
                options["stats"] = str(stats)
            else:
                params = options.get("x265-params")
                extra = f"pass={pass_no}:stats={stats}"
                options["x265-params"] = f"{params}:{extra}" if params else extra
        stream.options = options
        if plan.hvc1_tag:
            stream.codec_tag = "hvc1"
        return stream

    def _audio_stream(self) -> Any:
        a_in = self.a_in
        assert a_in is not None
        encoder = self.plan.audio_encoder
        if encoder is None:
            return self.out.add_stream_from_template(a_in)
        rate = OPUS_RATE if encoder == "libopus" else (a_in.codec_context.sample_rate or OPUS_RATE)
        stream = self.out.add_stream(encoder, rate=rate)
        stream.layout = "stereo" if MAX_AUDIO_CHANNELS == 2 else "mono"
        codec_formats = stream.codec_context.codec.audio_formats
        if codec_formats:
            stream.format = codec_formats[0].name
        return stream

    # -- the loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        streams = [self.v_in] + ([self.a_in] if self.a_in is not None else [])
        for packet in self.inp.demux(streams):
            if stop.is_set():
                raise TranscodeStopped
            if packet.stream is self.v_in:
                self._video_packet(packet)
            else:
                self._audio_packet(packet)
        self._flush()

    def _video_packet(self, packet: Any) -> None:
        if self.plan.video_encoder is None:
            if packet.dts is not None:
                packet.stream = self.v_out
                self.out.mux(packet)
            return
        for frame in packet.decode():
            for ready in self._filter(frame):
                self.out.mux(self.v_out.encode(ready))

    def _audio_packet(self, packet: Any) -> None:
        assert self.a_out is not None
        if self.plan.audio_encoder is None:
            if packet.dts is not None:
                packet.stream = self.a_out
                self.out.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None  # the encoder's FIFO re-times the samples
            self.out.mux(self.a_out.encode(frame))

    def _flush(self) -> None:
        # demux ends each stream with an empty packet, whose decode flushed the decoders
        if self.plan.video_encoder is not None:
            if self.graph is not None:
                for ready in self._drain(eof=True):
                    self.out.mux(self.v_out.encode(ready))
            self.out.mux(self.v_out.encode(None))
        if self.a_out is not None and self.plan.audio_encoder is not None:
            self.out.mux(self.a_out.encode(None))

    # -- video frames --------------------------------------------------------------------

    def _filter(self, frame: Any) -> Iterator[Any]:
        if self.graph is None:
            self.graph = self._build_graph(frame)
        self.graph.push(frame)
        yield from self._drain(eof=False)

    def _drain(self, *, eof: bool) -> Iterator[Any]:
        if eof:
            self.graph.push(None)
        while True:
            try:
                frame = self.graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            if self.plan.tone_map is not None:
                frame = tone_map_to_sdr(frame, self.transfer, self.plan.tone_map)
            frame.pict_type = PictureType.NONE
            yield frame

    def _build_graph(self, frame: Any) -> Any:
        """buffer → (upright) → scale → format (rgb48 when tone mapping) → sink."""
        graph = av.filter.Graph()
        chain = [graph.add_buffer(
            width=frame.width, height=frame.height, format=frame.format.name,
            time_base=self.v_in.time_base,
        )]
        specs = [tuple(s.split("=", 1)) for s in _TRANSPOSE.get(self.rotation % 360, [])]
        width, height = self.v_out.width, self.v_out.height
        specs.append(("scale", f"{width}:{height}"))
        specs.append(("format", "rgb48le" if self.plan.tone_map is not None else "yuv420p"))
        for spec in specs:
            chain.append(graph.add(spec[0], spec[1] if len(spec) > 1 else None))
        chain.append(graph.add("buffersink"))
        for a, b in itertools.pairwise(chain):
            a.link_to(b)
        graph.configure()
        return graph


def _codec_options(plan: EncodePlan) -> dict[str, str]:
    """ffmpeg's option names to libavcodec's (``b:v`` is ``b``)."""
    return {("b" if name == "b:v" else name): value for name, value in plan.options}
