"""The packet scan of a video stream: what Immich v3.1 stores in ``asset_keyframe``.

Immich lists the packets of the chosen video stream with ``ffprobe -show_entries
packet=pts,duration,flags`` at metadata extraction and keeps, in the stream's time base:

- ``pts``: the pts of every keyframe packet (pre-roll keyframes flagged discard included);
- ``accDuration``: the running sum of packet durations up to and including that keyframe;
- ``ownDuration``: that keyframe packet's own duration (variable frame rate needs it);
- ``totalDuration``: the sum of all packet durations (discarded packets included);
- ``packetCount``: the packets not flagged discard;
- ``outputFrames``: the frames a constant-frame-rate output at ``packetCount /
  totalDuration`` frames per tick would hold (FFmpeg's CFR frame-dropping and duplicating
  rule, applied to the packets in pts order).

A packet without pts or duration is skipped entirely (ffprobe prints ``N/A``); a stream with
no remaining non-discarded packet, or with no keyframe, gets no row. Only packets are read
(demuxing, no decoding), so the scan costs about one read of the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import attrs

__all__ = ["PacketScan", "PacketTiming", "cfr_output_frames", "scan_packets"]

INT32_MAX = 2**31 - 1
#: FFmpeg's thresholds (in output frame slots) for dropping and duplicating frames.
DROP_BELOW = -1.1
DUPLICATE_ABOVE = 1.1


@attrs.frozen(kw_only=True)
class PacketTiming:
    """One packet as ffprobe lists it: pts, duration (stream ticks) and its flags."""

    pts: int | None
    duration: int | None
    is_keyframe: bool
    is_discard: bool


@attrs.frozen(kw_only=True)
class PacketScan:
    """One ``asset_keyframe`` row (without the asset id)."""

    pts: tuple[int, ...]
    acc_duration: tuple[int, ...]
    own_duration: tuple[int, ...]
    total_duration: int
    packet_count: int
    output_frames: int

    def fits_int32(self) -> bool:
        """The v3.1 columns are ``integer``: a value past int32 cannot be stored."""
        values = (*self.pts, *self.acc_duration, *self.own_duration)
        scalars = (self.total_duration, self.packet_count, self.output_frames)
        return all(-INT32_MAX - 1 <= v <= INT32_MAX for v in (*values, *scalars))


def scan_packets(packets: Iterable[PacketTiming]) -> PacketScan | None:
    total = 0
    keyframe_pts: list[int] = []
    acc: list[int] = []
    own: list[int] = []
    kept: list[tuple[int, int]] = []
    for packet in packets:
        if packet.pts is None or packet.duration is None:
            continue
        total += packet.duration
        if not packet.is_discard:
            kept.append((packet.pts, packet.duration))
        if packet.is_keyframe:
            keyframe_pts.append(packet.pts)
            acc.append(total)
            own.append(packet.duration)
    if not kept or not keyframe_pts:
        return None
    return PacketScan(
        pts=tuple(keyframe_pts),
        acc_duration=tuple(acc),
        own_duration=tuple(own),
        total_duration=total,
        packet_count=len(kept),
        output_frames=cfr_output_frames(kept, total),
    )


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def cfr_output_frames(packets: list[tuple[int, int]], total_duration: int) -> int:
    """Frames a CFR output at ``len(packets) / total_duration`` frames per tick holds.

    ``packets`` are (pts, duration) pairs. Each packet yields one frame slot, none when it
    falls more than 1.1 slots behind the output clock, several when it spans more than 1.1
    slots; the median of the last three "previous frame repeats" is added at the end, as
    FFmpeg's video sync does when it flushes.
    """
    if total_duration <= 0:
        return len(packets)  # no clock to resample against: one frame per packet
    slots_per_tick = len(packets) / total_duration
    ordered = sorted(packets, key=lambda p: p[0])
    first_pts = ordered[0][0]
    frames = 0
    next_slot = 0.0
    history = [0, 0, 0]
    for pts, duration in ordered:
        sync = (pts - first_pts) * slots_per_tick
        delta0 = sync - next_slot
        delta = delta0 + duration * slots_per_tick
        if delta0 < 0 < delta:
            delta0 = 0
        count, repeats = 1, 0
        if delta < DROP_BELOW:
            count = 0
        elif delta > DUPLICATE_ABOVE:
            count = _round_half_up(delta)
            if delta0 > DUPLICATE_ABOVE:
                repeats = _round_half_up(delta0 - 0.6)
        frames += count
        next_slot += count
        history = [repeats, history[0], history[1]]
    return frames + sorted(history)[1]
