"""The phone, as the tests drive it: REST calls with the app's headers (each 2xx answer checked
against the spec's schema), the backup upload task's multipart request, and small media made here."""

from __future__ import annotations

import io
import json
import queue
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from tests.e2e.conftest import ServerProcess
from tests.http.response_schema import check

CAP = 60.0
"""Seconds any one call or event may take."""
DEVICE_ID = "b2c3d4e5f6a7b8c9"  # the app's StoreKey.deviceId


@attrs.define
class Answer:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


@attrs.define
class App:
    """The phone: REST calls as the generated client and the upload task send them."""

    server: ServerProcess
    token: str = ""

    @property
    def auth(self) -> dict[str, str]:
        # The app hands its x-immich-user-token to the native HTTP layer, which turns it into the
        # web's cookies for the server's URL (Android HttpClientManager, iOS URLSessionManager).
        if not self.token:
            return {}
        return {"Cookie": f"immich_access_token={self.token}; immich_is_authenticated=true; immich_auth_type=password"}

    def raw(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> Answer:
        request = urllib.request.Request(url, data=data, method=method)
        for name, value in headers.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=CAP) as response:
                return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())

    def api(self, op: str, method: str, path: str, body: Any = None, **extra: str) -> Answer:
        """One generated-client call, its answer checked against the spec's schema for ``op``."""
        headers = {"Accept": "application/json", **self.auth, **extra}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        answer = self.raw(method, self.server.api + path, data, headers)
        check(op, answer.status, answer.headers.get("content-type", ""), answer.raw)
        return answer

    def upload(self, data: bytes, name: str, local_id: str, **fields: str) -> Answer:
        """The backup upload task: multipart with the app's fields, the file last as ``assetData``."""
        boundary = uuid.uuid4().hex
        form = {
            "filename": name,
            "deviceAssetId": local_id,
            "deviceId": DEVICE_ID,
            "fileCreatedAt": "2024-05-01T10:00:00.000Z",
            "fileModifiedAt": "2024-05-01T10:00:05.000Z",
            "isFavorite": "false",
            "duration": "0",
            **fields,
        }
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in form.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="assetData"; filename="{local_id}.tmp"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        headers = {**self.auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        answer = self.raw("POST", self.server.api + "/assets", b"".join(parts), headers)
        check("uploadAsset", answer.status, answer.headers.get("content-type", ""), answer.raw)
        return answer


def video_clip() -> bytes:
    """A one-second MPEG-4 clip, made here."""
    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for n in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), n * 20, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def schema(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def next_event(events: queue.Queue[tuple[str, Any]], name: str, match: Callable[[Any], bool] = lambda _: True) -> Any:
    while True:
        got, args = events.get(timeout=CAP)
        if got == name and match(args):
            return args
