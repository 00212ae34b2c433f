"""The in-process CLIP path on tiny real ONNX models in Immich's layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trio
import trio.testing
from PIL import Image
from tiny_clip import MODEL, SIZE, build_clip, reference_textual, reference_visual

from immich_trio.ml import local
from immich_trio.ml.clip import TextualEncoder, VisualEncoder, serialize
from immich_trio.ml.layout import ClipPaths, ModelError, download_clip
from immich_trio.ml.local import LocalClip


def _image(tmp_path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 24)) -> Path:
    path = tmp_path / f"{colour}.png"
    Image.new("RGB", size, colour).save(path)
    return path


def test_visual_matches_numpy_reference(tmp_path: Path) -> None:
    build_clip(tmp_path)
    encoder = VisualEncoder(ClipPaths.of(tmp_path, MODEL))
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 256, size=(30, 50, 3), dtype=np.uint8))
    # the reference preprocessing: shortest side to SIZE (bicubic), centre crop
    resized = image.resize((int(50 / 30 * SIZE), SIZE), resample=Image.Resampling.BICUBIC)
    left = int(resized.width / 2 - SIZE / 2)
    cropped = np.asarray(resized.crop((left, 0, left + SIZE, SIZE)))
    got = encoder.encode(image)
    assert got.shape == (512,)
    np.testing.assert_allclose(got, reference_visual(cropped), atol=1e-5)
    np.testing.assert_array_equal(got, encoder.encode(image))  # deterministic
    assert abs(float(np.linalg.norm(got)) - 1.0) < 1e-5  # as Immich's exports give it


@pytest.mark.parametrize("int64", [False, True])
def test_textual_matches_numpy_reference(tmp_path: Path, int64: bool) -> None:
    build_clip(tmp_path, int64=int64)
    encoder = TextualEncoder(ClipPaths.of(tmp_path, MODEL))
    tokens = encoder.tokenize("  a   red\nphoto ")
    assert tokens.dtype == (np.int64 if int64 else np.int32)
    assert tokens.tolist() == [[1, 2, 5, 0, 0, 0]]
    got = encoder.encode("a red photo")
    np.testing.assert_allclose(got, reference_textual(["a", "red", "photo"]), atol=1e-6)
    assert abs(float(np.linalg.norm(got)) - 1.0) < 1e-5
    # truncated to the context length
    assert encoder.tokenize("red " * 20).shape == (1, 6)


def test_serialized_embedding_is_a_pgvector_literal(tmp_path: Path) -> None:
    text = serialize(np.array([0.5, -0.25], dtype=np.float32))
    assert text == "[0.5,-0.25]"


async def test_text_query_finds_its_colour(tmp_path: Path) -> None:
    build_clip(tmp_path / "cache")
    clip = LocalClip(tmp_path / "cache")
    with trio.fail_after(30):
        images = {c: await clip.encode_image(MODEL, _image(tmp_path, rgb)) for c, rgb in
                  (("red", (255, 0, 0)), ("green", (0, 255, 0)), ("blue", (0, 0, 255)))}
        for word in images:
            query = await clip.encode_text(MODEL, word)
            best = max(images, key=lambda c: float(images[c] @ query))
            assert best == word


async def test_missing_model_fails_clearly_and_downloads_are_attempted(tmp_path: Path) -> None:
    attempts: list[str] = []

    def no_network(paths: ClipPaths, name: str, kind: str) -> None:
        attempts.append(f"{name}/{kind}")
        download_clip(paths, name, kind, endpoint="http://127.0.0.1:9")  # nothing listens there

    clip = LocalClip(tmp_path, download=no_network)
    with trio.fail_after(30), pytest.raises(ModelError, match="could not be downloaded"):
        await clip.encode_text("ViT-B-32__openai", "red")
    assert attempts == ["ViT-B-32__openai/textual"]
    assert clip.statistics().loaded == ()


async def test_corrupt_model_is_a_model_error(tmp_path: Path) -> None:
    root = build_clip(tmp_path)
    (root / "visual" / "model.onnx").write_bytes(b"not a model")
    clip = LocalClip(tmp_path)
    with trio.fail_after(30), pytest.raises(ModelError, match="cannot load"):
        await clip.encode_image(MODEL, _image(tmp_path, (1, 2, 3)))


def test_ttl_unload_on_mock_clock(tmp_path: Path) -> None:
    build_clip(tmp_path)
    clock = trio.testing.MockClock(autojump_threshold=0)

    async def main() -> None:
        clip = LocalClip(tmp_path, ttl=300.0, poll=10.0)
        # a loaded model, put in place directly: threads and MockClock do not mix
        encoder = TextualEncoder(ClipPaths.of(tmp_path, MODEL))
        clip._slots[(MODEL, "textual")] = local._Slot(encoder=encoder, last_used=trio.current_time())
        async with trio.open_nursery() as nursery:
            await nursery.start(clip.run)
            await trio.sleep(295)
            assert clip.statistics().loaded == (f"{MODEL}/textual",)
            await trio.sleep(20)
            assert clip.statistics().loaded == ()
            assert clip.statistics().unloads == 1
            nursery.cancel_scope.cancel()

    trio.run(main, clock=clock)
