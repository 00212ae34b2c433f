"""The hostile-media corpus through the decoder, each file in a child process under a memory
ceiling: every item ends as expected (a reason when it fails, never retried), and memory stays
far below what the headers claim."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_media import Item, corpus, decode_isolated

PEAK_MB = 400
"""A bomb claims 4-17 GB; the decoder must stay near its resting size (~50 MB)."""


@pytest.mark.parametrize("item", corpus(panorama=(8000, 3000)), ids=lambda item: item.name)
def test_hostile_file_fails_with_a_reason_or_decodes_within_bounded_memory(
    item: Item, tmp_path: Path
) -> None:
    source = tmp_path / item.filename
    source.write_bytes(item.data)
    result = decode_isolated(source, tmp_path / "out")
    assert result["status"] in ("failed", "success"), result  # never a crash
    if item.expect != "either":
        assert result["status"] == item.expect, result
    if result["status"] == "failed":
        assert result["reason"] and item.filename in str(result["reason"])
        assert result["permanent"] is True  # a deterministic failure is not retried
    else:
        assert (tmp_path / "out" / "p.jpeg").stat().st_size > 0
    assert float(str(result["peak_mb"])) < PEAK_MB
