"""Thumbnail geometry and resampling, shared by the image and video paths (Immich's sizes:
``fit=outside`` without enlargement for preview and thumbnail, ``fit=inside`` for the thumbhash)."""

from __future__ import annotations

from PIL import Image

LANCZOS = Image.Resampling.LANCZOS
REDUCING_GAP = 3.0  # box-reduce first when shrinking > 3x: faster, visually the same


def fit_outside(width: int, height: int, short: int) -> tuple[int, int]:
    """Scale so the short side is ``short``; never enlarge."""
    if min(width, height) <= short:
        return width, height
    if width <= height:
        return short, max(1, round(height * short / width))
    return max(1, round(width * short / height)), short


def fit_inside(width: int, height: int, longest: int) -> tuple[int, int]:
    if max(width, height) <= longest:
        return width, height
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(image: Image.Image, size: tuple[int, int], *, reducing_gap: float = REDUCING_GAP) -> Image.Image:
    """``image`` at ``size`` with Lanczos; shrinks beyond ``reducing_gap``x box-reduce first."""
    if image.size == size:
        return image
    if image.mode == "RGBA":
        # Premultiply, or transparent pixels' colours bleed into the edges.
        premultiplied = image.convert("RGBa").resize(size, LANCZOS, reducing_gap=reducing_gap)
        return premultiplied.convert("RGBA")
    return image.resize(size, LANCZOS, reducing_gap=reducing_gap)
