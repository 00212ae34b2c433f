"""Face detection + recognition throughput in-process against onnxruntime alone, on the same
tiny models (``tests/tiny_faces.py``: the buffalo_l input/output layout, trivial compute).

    python benchmarks/bench_face_detection.py [--images 200] [--size 1440x1080]

Three numbers, images per second on one core (one inference thread, ``taskset`` for the rest):
- ``onnxruntime alone``: the detector on a ready 640x640 blob, then the recognizer on a ready
  1x3x112x112 blob: the floor of what any server pays;
- ``pipeline``: ``FaceModels.faces_in_file`` on a JPEG preview: decoding, letterbox resize,
  decoding the 9 outputs, NMS, alignment and both models;
- ``in-process service``: ``LocalFaces.detect`` from Trio (model slot, worker thread, limiter).
The tiny models cost almost nothing, so the ratio measures our overhead, not the models'.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trio
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from tiny_faces import FACE_SQUARE, MODEL, build_faces

from immich_trio.ml.faces import FaceDetector, FaceModels, FaceRecognizer
from immich_trio.ml.layout import DETECTION, RECOGNITION, FacePaths
from immich_trio.ml.local_faces import LocalFaces


def preview(path: Path, width: int, height: int) -> None:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    scale = width / 320
    x1, y1, x2, y2 = (int(v * scale) for v in FACE_SQUARE)
    image[y1:y2, x1:x2] = 255
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=80)
    path.write_bytes(out.getvalue())


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:8.1f} images/s ({1000 * seconds / count:6.2f} ms each)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", default="1440x1080")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    cache = Path(tempfile.mkdtemp())
    build_faces(cache)
    image = cache / "preview.jpeg"
    preview(image, width, height)
    paths = FacePaths.of(cache, MODEL)
    models = FaceModels(FaceDetector(paths.model(DETECTION)), FaceRecognizer(paths.model(RECOGNITION)))
    _, faces = models.faces_in_file(image, 0.7)
    print(f"{args.images} runs on a {width}x{height} JPEG preview, {len(faces)} face(s) found")

    det, rec = models.detector, models.recognizer
    det_blob = np.zeros((1, 3, det.input_height, det.input_width), dtype=np.float32)
    rec_blob = np.zeros((len(faces), 3, 112, 112), dtype=np.float32)
    started = time.perf_counter()
    for _ in range(args.images):
        det.session.run(det.output_names, {det.input_name: det_blob})
        rec.session.run(None, {rec.input_name: rec_blob})
    alone = time.perf_counter() - started
    print(f"onnxruntime alone:   {rate(args.images, alone)}")

    started = time.perf_counter()
    for _ in range(args.images):
        models.faces_in_file(image, 0.7)
    pipeline = time.perf_counter() - started
    print(f"pipeline:            {rate(args.images, pipeline)}")

    async def service() -> float:
        local = LocalFaces(cache)
        await local.detect(MODEL, image, 0.7)  # loaded once, as a running server has it
        begun = time.perf_counter()
        for _ in range(args.images):
            await local.detect(MODEL, image, 0.7)
        return time.perf_counter() - begun

    in_process = trio.run(service)
    print(f"in-process service:  {rate(args.images, in_process)}")
    print(f"in-process / onnxruntime alone: {alone / in_process:.2f}")


if __name__ == "__main__":
    main()
