"""The web page of ``seqlab serve``: a Gradio app with one tab per model (the field's convention
for model demos; it also gives the page a generated client API). Each tab calls the same served
model as the HTTP API, through the same batcher.

- speech recognition: record or upload audio -> transcript, with greedy / beam / beam+LM, the
  n-best list and the time it took;
- translation: text -> translation, with a beam size;
- vocoder: a wav or ``.npy`` mel -> an audio player and a download.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from seqlab.serve.batching import QueueFull
from seqlab.serve.models import InputError, ServedModel

KEEP_SECONDS = 3600  # how long the page's vocoded files are kept


def element_id(model: ServedModel, part: str) -> str:
    """The HTML id of one element of a model's tab (``asr_bilstm-transcript``), for tests."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', model.name)}-{part}"


def _timing(result: dict) -> str:
    return (
        f"{1000 * result['seconds']:.0f} ms in all ({1000 * result['compute_seconds']:.0f} ms in "
        f"the model, in a batch of {result['batch_size']})"
    )


def _call(fn):
    """Run ``fn``; the errors a user can act on become a message on the page."""
    import gradio as gr

    try:
        return fn()
    except (InputError, QueueFull) as err:
        raise gr.Error(str(err)) from err


def _asr_tab(model, gr) -> None:
    gr.Markdown(
        f"Speech recognition with **{model.name}** (`{model.checkpoint}`). Record from the "
        "microphone or upload a wav/flac/ogg file."
    )
    audio = gr.Audio(
        sources=["upload", "microphone"],
        type="filepath",
        label="Speech",
        elem_id=element_id(model, "audio"),
    )
    with gr.Row():
        decoder = gr.Radio(
            model.decoders, value="greedy", label="Decoder", elem_id=element_id(model, "decoder")
        )
        beam = gr.Slider(
            1,
            64,
            value=10,
            step=1,
            label="Beam size (beam, beam+lm)",
            elem_id=element_id(model, "beam"),
        )
        nbest = gr.Slider(
            1,
            10,
            value=1,
            step=1,
            label="N-best (beam, beam+lm)",
            elem_id=element_id(model, "nbest"),
        )
    button = gr.Button("Transcribe", variant="primary", elem_id=element_id(model, "run"))
    text = gr.Textbox(label="Transcript", elem_id=element_id(model, "transcript"))
    table = gr.Dataframe(
        headers=["rank", "text", "score", "acoustic", "lm"],
        label="N-best",
        interactive=False,
        elem_id=element_id(model, "nbest-list"),
    )
    timing = gr.Markdown(elem_id=element_id(model, "timing"))

    def run(path, decoder, beam, nbest):
        if not path:
            raise gr.Error("record or upload some audio first")
        greedy = decoder == "greedy"
        result = _call(
            lambda: model.transcribe(
                path,
                Path(path).name,
                decoder,
                None if greedy else int(beam),
                None if greedy else int(nbest),
            )
        )
        rows = [
            [rank, h["text"], round(h["score"], 3), round(h["acoustic"], 3), round(h["lm"], 3)]
            for rank, h in enumerate(result["nbest"], 1)
        ]
        info = f"{result['decoder']}: {_timing(result)}; {result['audio_seconds']:.2f} s of audio"
        if "warning" in result:
            info += f"\n\n**Note:** {result['warning']}"
        return result["text"], rows, info

    button.click(
        run,
        [audio, decoder, beam, nbest],
        [text, table, timing],
        api_name=f"{model.name}_transcribe",
        concurrency_limit=None,
    )


def _mt_tab(model, gr) -> None:
    gr.Markdown(
        f"Translation with **{model.name}** (`{model.checkpoint}`): one sentence per line, "
        "tokenised like its training data."
    )
    source = gr.Textbox(label="Source", lines=3, elem_id=element_id(model, "source"))
    default = int(model.info()["default_beam_size"] or 1)
    beam = gr.Slider(
        1,
        16,
        value=default,
        step=1,
        label="Beam size (1 = greedy)",
        elem_id=element_id(model, "beam"),
    )
    button = gr.Button("Translate", variant="primary", elem_id=element_id(model, "run"))
    target = gr.Textbox(label="Translation", lines=3, elem_id=element_id(model, "translation"))
    timing = gr.Markdown(elem_id=element_id(model, "timing"))

    def run(text, beam):
        result = _call(lambda: model.translate(text or "", int(beam)))
        info = _timing(result) + (
            f"\n\n**Note:** {result['warning']}" if "warning" in result else ""
        )
        return result["translation"], info

    button.click(
        run,
        [source, beam],
        [target, timing],
        api_name=f"{model.name}_translate",
        concurrency_limit=None,
    )


def _vocoder_tab(model, gr, folder: Path) -> None:
    gr.Markdown(
        f"Vocoder **{model.name}** (`{model.checkpoint}`): a wav/flac/ogg file (copy-synthesis) "
        f"or a `.npy` log-mel of shape [{model.model.n_mels}, frames] -> audio at "
        f"{model.model.sample_rate} Hz."
    )
    source = gr.File(
        label="wav or .npy mel",
        file_types=[".wav", ".flac", ".ogg", ".npy"],
        type="filepath",
        elem_id=element_id(model, "input"),
    )
    button = gr.Button("Vocode", variant="primary", elem_id=element_id(model, "run"))
    player = gr.Audio(label="Vocoded", type="filepath", elem_id=element_id(model, "audio"))
    download = gr.File(label="Download", elem_id=element_id(model, "download"))
    timing = gr.Markdown(elem_id=element_id(model, "timing"))

    def run(path):
        import soundfile as sf

        if not path:
            raise gr.Error("upload a wav file or a .npy mel first")
        result = _call(lambda: model.vocode(path, Path(path).name))
        _sweep(folder)
        out = tempfile.NamedTemporaryFile(
            dir=folder, prefix=f"{Path(path).stem}-", suffix=".wav", delete=False
        )
        with out:
            sf.write(out, result["wave"], result["sample_rate"], subtype="PCM_16", format="WAV")
        return out.name, out.name, _timing(result)

    button.click(
        run,
        [source],
        [player, download, timing],
        api_name=f"{model.name}_vocode",
        concurrency_limit=None,
    )


def _sweep(folder: Path, age: float = KEEP_SECONDS) -> None:
    """Remove vocoded files older than ``age`` seconds (Gradio has copied them into its cache,
    which it cleans itself), so that a long-running server does not fill the disk."""
    now = time.time()
    for file in folder.glob("*.wav"):
        try:
            if now - file.stat().st_mtime > age:
                file.unlink()
        except OSError:  # removed meanwhile by another request's sweep
            pass


def build_page(models: dict[str, ServedModel], folder: Path):
    """The Gradio ``Blocks``: one tab per model (vocoder outputs are written into ``folder``)."""
    import gradio as gr

    # Gradio's cache of uploads and outputs: files older than an hour go, checked every hour
    with gr.Blocks(title="seqlab serve", delete_cache=(KEEP_SECONDS, KEEP_SECONDS)) as page:
        gr.Markdown(
            "# seqlab serve\nThe models of this server; the same operations are an HTTP API "
            "([/api/docs](/api/docs), `GET /api/models`)."
        )
        with gr.Tabs():
            for model in models.values():
                with gr.Tab(f"{model.name} ({model.kind})", elem_id=element_id(model, "tab")):
                    if model.kind == "asr":
                        _asr_tab(model, gr)
                    elif model.kind == "mt":
                        _mt_tab(model, gr)
                    else:
                        _vocoder_tab(model, gr, folder)
    return page
