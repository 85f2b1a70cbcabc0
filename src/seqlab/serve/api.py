"""The JSON/HTTP API of ``seqlab serve`` (FastAPI routes; documented in seqlab/serve/__init__.py
and README.md's "Serving").

Every error is ``{"error": "<one line: what was wrong and what to do>"}`` with a 4xx status
(404 no such model, 413 too large, 422 bad input, 503 queue full); an unexpected failure of a
model is a 500 with its message, and the server keeps answering.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from seqlab.serve.batching import QueueFull
from seqlab.serve.models import AUDIO_SUFFIXES, InputError, Limits, ServedModel

ROUTES = {"asr": "/api/transcribe", "mt": "/api/translate", "vocoder": "/api/vocode"}


class ApiError(Exception):
    """An answer other than 200: ``status`` and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class TranslateRequest(BaseModel):
    """``POST /api/translate``'s JSON body."""

    text: str
    model: str | None = None
    beam_size: int | None = None


def pick(models: dict[str, ServedModel], kind: str, name: str | None) -> ServedModel:
    """The model a request names (or the only one of ``kind``), else a 404/422 saying which exist."""
    from seqlab.inference import kind_label

    of_kind = [m for m in models.values() if m.kind == kind]
    if name is None:
        if len(of_kind) == 1:
            return of_kind[0]
        if not of_kind:
            raise ApiError(404, f"this server holds no {kind_label(kind)} model (GET /api/models)")
        raise ApiError(
            422,
            f"name the model: this server holds {len(of_kind)} {kind_label(kind)} models "
            f"({', '.join(m.name for m in of_kind)}); add model=NAME",
        )
    if name not in models:
        raise ApiError(
            404, f"no model named {name!r}; this server holds {', '.join(models)} (GET /api/models)"
        )
    model = models[name]
    if model.kind != kind:
        raise ApiError(
            422,
            f"model {name} is a {kind_label(model.kind)} model; send its requests to "
            f"{ROUTES[model.kind]}",
        )
    return model


def _label(filename: str | None) -> str:
    """The client's name for an upload, safe to echo in messages."""
    name = Path(filename or "").name
    name = re.sub(r"[^\w.\- ]", "_", name)[:100]
    return name or "upload"


def save_upload(
    upload: UploadFile, folder: Path, limits: Limits, suffixes: tuple[str, ...]
) -> Path:
    """Copy an upload into ``folder`` (a name of the server's own, keeping a known suffix),
    refusing more than ``limits.max_upload_bytes`` (413) and empty uploads (422)."""
    label = _label(upload.filename)
    suffix = Path(label).suffix.lower()
    if label.lower().endswith(".npy"):
        suffix = ".npy"
    handle = tempfile.NamedTemporaryFile(
        dir=folder, suffix=suffix if suffix in suffixes else ".upload", delete=False
    )
    size = 0
    with handle:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limits.max_upload_bytes:
                handle.close()
                Path(handle.name).unlink(missing_ok=True)
                raise ApiError(413, _too_large(limits))
            handle.write(chunk)
    if size == 0:
        Path(handle.name).unlink(missing_ok=True)
        raise ApiError(422, f"{label}: the upload is empty (0 bytes); send the file's contents")
    return Path(handle.name)


def _too_large(limits: Limits) -> str:
    return (
        f"the upload is larger than this server's limit of {limits.max_upload_mb:g} MB "
        "(--max-upload-mb); send a shorter file"
    )


def _answer(call):
    """Run ``call`` and turn what it raises into the API's errors."""
    try:
        return call()
    except InputError as err:
        raise ApiError(err.status, str(err)) from err
    except QueueFull as err:
        raise ApiError(503, str(err)) from err


def add_api(app: FastAPI, models: dict[str, ServedModel], limits: Limits, folder: Path) -> None:
    """Add the ``/api`` routes, the upload-size check and the JSON error answers to ``app``;
    uploads are copied into ``folder`` while they are served."""
    router = APIRouter(prefix="/api")

    @router.get("/models")
    def list_models() -> dict:
        """The models this server holds: name, kind, checkpoint, runtime, batching counters."""
        return {
            "models": [m.info() for m in models.values()],
            "limits": {
                "max_upload_mb": limits.max_upload_mb,
                "max_audio_seconds": limits.max_audio_seconds,
                "max_text_chars": limits.max_text_chars,
            },
        }

    @router.post("/transcribe")
    def transcribe(
        file: Annotated[UploadFile, File()],
        model: Annotated[str | None, Form()] = None,
        decoder: Annotated[str, Form()] = "greedy",
        beam_size: Annotated[int | None, Form()] = None,
        nbest: Annotated[int | None, Form()] = None,
    ) -> dict:
        """An audio upload -> ``{"text", "nbest": [{"text", "score", "acoustic", "lm"}],
        "decoder", "seconds", "batch_size", "audio_seconds"[, "warning"]}``."""
        served = pick(models, "asr", model)
        path = save_upload(file, folder, limits, AUDIO_SUFFIXES)
        try:
            return _answer(
                lambda: served.transcribe(path, _label(file.filename), decoder, beam_size, nbest)
            )
        finally:
            path.unlink(missing_ok=True)

    @router.post("/translate")
    def translate(request: TranslateRequest) -> dict:
        """``{"text", "model"?, "beam_size"?}`` -> ``{"translation", "seconds", "batch_size"}``."""
        served = pick(models, "mt", request.model)
        return _answer(lambda: served.translate(request.text, request.beam_size))

    @router.post("/vocode")
    def vocode(
        file: Annotated[UploadFile, File()], model: Annotated[str | None, Form()] = None
    ) -> Response:
        """A wav/flac/ogg (copy-synthesis) or ``.npy`` log-mel upload -> a 16-bit wav."""
        import soundfile as sf

        served = pick(models, "vocoder", model)
        path = save_upload(file, folder, limits, (*AUDIO_SUFFIXES, ".npy"))
        try:
            result = _answer(lambda: served.vocode(path, _label(file.filename)))
        finally:
            path.unlink(missing_ok=True)
        buffer = io.BytesIO()
        sf.write(buffer, result["wave"], result["sample_rate"], subtype="PCM_16", format="WAV")
        headers = {
            "X-Seqlab-Model": served.name,
            "X-Seqlab-Seconds": str(result["seconds"]),
            "X-Seqlab-Batch-Size": str(result["batch_size"]),
            "Content-Disposition": f'attachment; filename="{Path(_label(file.filename)).stem}.wav"',
        }
        return Response(buffer.getvalue(), media_type="audio/wav", headers=headers)

    app.include_router(router)

    @app.middleware("http")
    async def refuse_large_uploads(request: Request, call_next):
        """Refuse an API upload by its Content-Length before reading it."""
        length = request.headers.get("content-length", "")
        if request.url.path.startswith("/api/") and length.isdigit():
            if int(length) > limits.max_upload_bytes + 64 * 1024:  # room for the form's fields
                return JSONResponse({"error": _too_large(limits)}, status_code=413)
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError):
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError):
        problems = []
        for e in err.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "the request"
            problems.append(f"{where}: {e.get('msg', 'invalid')}")
        usage = {
            "/api/transcribe": "multipart form: file=@a.wav [model, decoder, beam_size, nbest]",
            "/api/translate": 'JSON: {"text": "...", "model": NAME, "beam_size": N}',
            "/api/vocode": "multipart form: file=@a.wav or file=@mel.npy [model]",
        }.get(request.url.path, "see GET /api/models and README.md's Serving section")
        return JSONResponse(
            {"error": f"bad request ({'; '.join(problems)}); expected {usage}"}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException):
        message = str(err.detail)
        if err.status_code == 400 and request.url.path == "/api/translate":
            message = (
                f"{message}: the body must be UTF-8 JSON, e.g. "
                '{"text": "ein hund .", "beam_size": 5}'
            )
        return JSONResponse({"error": message}, status_code=err.status_code)

    @app.exception_handler(Exception)
    async def failure(request: Request, err: Exception):  # the server goes on answering
        return JSONResponse(
            {"error": f"the model failed on this request ({type(err).__name__}: {err})"},
            status_code=500,
        )
