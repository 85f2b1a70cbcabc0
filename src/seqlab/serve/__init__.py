"""``seqlab serve``: trained checkpoints on a web page and over HTTP.

    seqlab serve runs/asr_conformer/<run>/checkpoints/best runs/mt_transformer/<run> \\
        runs/vocoder_hifigan_v1/<run> --lm lm.arpa [--host 127.0.0.1] [--port 7860]

Each checkpoint is loaded once; its kind (speech recognition, translation, vocoder) comes from the
checkpoint. ``NAME=CKPT`` names a model; otherwise it is called by its experiment
(``asr_conformer``, ``asr_conformer-2``...). The page (Gradio, at ``/``) has one tab per model.

The HTTP API (OpenAPI docs at ``/api/docs``); every error is ``{"error": "..."}`` with a 4xx:

- ``GET /api/models`` -> ``{"models": [{"name", "kind", "checkpoint", "runtime", "batching":
  {"max_batch", "max_wait_ms", "queue_size", "requests", "batches", "largest_batch",
  "batch_sizes"}, ...}], "limits": {...}}``
- ``POST /api/transcribe``, a multipart form: ``file`` (wav/flac/ogg), ``model`` (needed when
  the server holds several recognizers), ``decoder`` (``greedy`` | ``beam`` | ``beam+lm``, the
  latter with ``--lm``), ``beam_size``, ``nbest`` -> ``{"model", "decoder", "text", "nbest":
  [{"text", "score", "acoustic", "lm"}], "seconds", "compute_seconds", "batch_size",
  "audio_seconds", "warning"?}`` (the same texts and scores as ``seqlab transcribe --json
  [--decoder beam --beam-size N --nbest N --lm LM]``)
- ``POST /api/translate``, JSON ``{"text": "ein hund .", "model"?: NAME, "beam_size"?: N}`` ->
  ``{"model", "translation", "beam_size", "seconds", "compute_seconds", "batch_size",
  "warning"?}``; each line of ``text`` is translated as ``seqlab translate`` translates a line
- ``POST /api/vocode``, a multipart form: ``file`` (wav/flac/ogg for copy-synthesis, or a
  ``.npy`` log-mel ``[n_mels, frames]``), ``model`` -> ``audio/wav`` (16-bit, as ``seqlab
  vocode`` writes it), with headers ``X-Seqlab-Batch-Size`` and ``X-Seqlab-Seconds``

Statuses: 404 no such model; 413 an upload over ``--max-upload-mb``, audio over
``--max-audio-seconds`` or text over ``--max-text-chars``; 422 a bad input (unreadable, empty,
NaN/inf samples, too short for the model, a mel of the wrong shape, empty text, a wrong field),
503 the model's queue is full (``--queue-size``), 500 an unexpected failure of the model (the
server goes on).

Concurrent requests are batched per model (seqlab/serve/batching.py): a worker gathers requests
for up to ``--batch-wait-ms`` or ``--max-batch`` of them and runs one batched call;
``--max-batch 1`` (or ``--no-batching``) turns batching off, ``--max-batch NAME=1`` for one model.
"""

from seqlab.serve.app import Server, build_app
from seqlab.serve.batching import DynamicBatcher, QueueFull
from seqlab.serve.models import Batching, InputError, Limits, ServedModel, load_models

__all__ = [
    "Batching",
    "DynamicBatcher",
    "InputError",
    "Limits",
    "QueueFull",
    "ServedModel",
    "Server",
    "build_app",
    "load_models",
]
