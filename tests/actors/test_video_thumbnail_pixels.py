"""The video thumbnail's pixels: the frame the choice picks, rendered by the fast path (its key
packet decoded a second time alone, the thumbnail box-reduced from the preview), against the
same frame decoded in sequence and rendered plainly (libswscale to the preview size, a plain
Lanczos after a 2x box reduce past 3x, as before the speed work). Tolerance: mean absolute
difference on 0..255 below 0.5 for the preview (the same pixels) and below 2 for the thumbnail."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from immich_trio.actors.thumbnailer import video
from immich_trio.actors.thumbnailer.encode import encode
from immich_trio.actors.thumbnailer.options import OutputOptions, ThumbnailOptions
from immich_trio.actors.thumbnailer.sizing import REDUCING_GAP, fit_outside

OPTIONS = ThumbnailOptions(
    preview=OutputOptions(format="jpeg", size=240, quality=100),
    thumbnail=OutputOptions(format="jpeg", size=40, quality=100),
)
"""Near-lossless encodes (JPEG q100, 4:4:4), so the differences measured are the rendering's, not
the encoder's (WebP q80 alone is ~13 grey levels off on this texture at 53x40)."""
WIDTH, HEIGHT = 480, 360
KEY_OFFSETS = [-45, 0, 0, 0, 70]
"""Luma offsets of the key frames (every other frame): a darker opening, three alike, a bright
end. The three alike are nearest the batch's mean histogram; the frames between the key frames
are much brighter still, so a non-key frame in the thumbnail would show."""


def _texture(offset: int) -> npt.NDArray[np.uint8]:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    noise = np.random.default_rng(7).normal(0, 8, (HEIGHT, WIDTH, 3))
    base = np.stack(
        [
            120 + 50 * np.sin(xx / 5.0) * np.cos(yy / 7.0),
            110 + 40 * np.sin((xx + yy) / 13.0),
            90 + 60 * ((xx // 24 + yy // 24) % 2),
        ],
        axis=-1,
    )
    return np.asarray(np.clip(base + noise + offset, 0, 255), dtype=np.uint8)


def _textured_clip(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=12)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.gop_size = 2
        stream.options = {"crf": "12", "x264-params": "scenecut=0:log-level=error"}
        for i in range(2 * len(KEY_OFFSETS)):
            offset = KEY_OFFSETS[i // 2] if i % 2 == 0 else 100
            out.mux(stream.encode(av.VideoFrame.from_ndarray(_texture(offset), format="rgb24")))
        out.mux(stream.encode())
    return path


def _decoded_in_sequence(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


ALIKE = (2, 4, 6)


def _pixels(data: bytes) -> npt.NDArray[np.float64]:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64)


def _mad(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    assert a.shape == b.shape
    return float(np.abs(a - b).mean())


def test_preview_and_thumbnail_keep_the_plain_rendering_of_the_chosen_frame(tmp_path: Path) -> None:
    source = _textured_clip(tmp_path / "textured.mp4")
    rendered = video.render_video_thumbnails(
        source, preview_path=tmp_path / "p.jpeg", thumbnail_path=tmp_path / "t.jpeg", options=OPTIONS
    )
    outputs = dict(rendered.outputs)
    assert not (tmp_path / "p.jpeg").exists()  # a worker's job writes nothing

    in_sequence = _decoded_in_sequence(source)
    chosen = [i for i, f in enumerate(in_sequence) if f.pts == video._representative_frame(source).pts]
    assert len(chosen) == 1 and chosen[0] in ALIKE  # one of the three alike, a key frame
    frame = in_sequence[chosen[0]]
    size = fit_outside(WIDTH, HEIGHT, OPTIONS.preview.size)
    plain = Image.fromarray(frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray())
    plain_thumbnail = plain.resize(
        fit_outside(*size, OPTIONS.thumbnail.size), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP
    )

    preview = _pixels(outputs[tmp_path / "p.jpeg"])
    thumbnail = _pixels(outputs[tmp_path / "t.jpeg"])
    assert preview.shape == (240, 320, 3) and thumbnail.shape == (40, 53, 3)
    assert _mad(preview, _pixels(encode(plain, "jpeg", 100, False, None))) < 0.5
    assert 0 < _mad(thumbnail, _pixels(encode(plain_thumbnail, "jpeg", 100, False, None))) < 2.0
    # Neither the dark opening, the bright end nor a (brighter) frame between key frames.
    for other in (0, 1, 8):
        wrong = in_sequence[other].reformat(width=size[0], height=size[1], format="rgb24")
        assert _mad(preview, np.asarray(wrong.to_ndarray(), dtype=np.float64)) > 20
    assert rendered.result.thumbhash and rendered.result.preview_size == (320, 240)


def test_a_kept_packet_that_does_not_decode_alone_is_found_by_decoding_again(tmp_path: Path) -> None:
    source = _textured_clip(tmp_path / "textured.mp4")
    container, stream = video._open(source, keyframes_only=True)
    with container:
        batch, read = video._candidates(container, stream)
        assert read == len(KEY_OFFSETS) == len(batch)  # key frames only, all lit
        assert all(isinstance(c.kept, av.Packet) for c in batch)  # no decoded frame held
        chosen = video._pick(batch)
        broken = chosen._replace(kept=av.Packet(b"\x00\x00\x01\x09 not a picture"))
        frame = video._frame_of(container, stream, broken)
    assert frame.pts == chosen.pts
    [expected] = [f.to_ndarray(format="rgb24") for f in _decoded_in_sequence(source) if f.pts == chosen.pts]
    assert np.array_equal(frame.to_ndarray(format="rgb24"), expected)
