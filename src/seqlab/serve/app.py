"""One FastAPI app for ``seqlab serve``: the ``/api`` routes (seqlab/serve/api.py) and the Gradio
page (seqlab/serve/page.py) mounted at ``/``, served by uvicorn on a socket bound before start
(port 0 picks a free port: the tests and bench/serve.py start servers that way)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from seqlab.serve.models import Limits, ServedModel

# no usage analytics or update checks from Gradio: seqlab runs offline
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def build_app(models: dict[str, ServedModel], limits: Limits, folder: Path, page: bool = True):
    """The app: ``/api/*`` (and its OpenAPI docs at ``/api/docs``) and, with ``page``, the
    Gradio page at ``/``. Uploads and generated audio live in ``folder`` while served."""
    from fastapi import FastAPI

    from seqlab.serve.api import add_api
    from seqlab.version import __version__

    app = FastAPI(
        title="seqlab serve",
        version=__version__,
        description="Speech recognition, translation and vocoding with seqlab checkpoints "
        "(README.md, Serving).",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    add_api(app, models, limits, folder)
    if page:
        import gradio as gr

        from seqlab.serve.page import build_page

        app = gr.mount_gradio_app(
            app,
            build_page(models, folder),
            path="",
            allowed_paths=[str(folder)],
            max_file_size=limits.max_upload_bytes,
            ssr_mode=False,
            footer_links=["api"],
        )
    return app


class Server:
    """A running ``seqlab serve``: uvicorn on ``host``:``port`` (0: a free port) in a thread.

    ``start()`` returns once it answers; ``url`` is its address; ``stop()`` ends it, stops the
    model workers and removes the upload folder.
    """

    def __init__(
        self,
        models: dict[str, ServedModel],
        limits: Limits | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        page: bool = True,
        log_level: str = "warning",
    ) -> None:
        import uvicorn

        self.models = models
        limits = limits or Limits()
        self.folder = Path(tempfile.mkdtemp(prefix="seqlab-serve-"))
        self.app = build_app(models, limits, self.folder, page=page)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))  # an address in use fails here, before anything runs
        self.host, self.port = host, self.socket.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level=log_level, timeout_graceful_shutdown=2, access_log=False
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        """Serve in a background thread; return once the server has started."""
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def run(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C), then clean up."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.close()

    def stop(self) -> None:
        """Stop serving, then clean up."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.close()

    def close(self) -> None:
        for model in self.models.values():
            model.close()
        self.socket.close()
        shutil.rmtree(self.folder, ignore_errors=True)
