"""Video transcoding for Immich (``AssetEncodeVideo``): the decision (``policy.py``, from the
``ffmpeg`` settings in ``settings.py``), the encoder settings (``plan.py``), the PyAV encode
(``encode.py``) and the actor that runs the jobs (``actor.py``)."""
