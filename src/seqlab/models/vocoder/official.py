"""Checkpoints of the official HiFi-GAN implementation (jik876/hifi-gan) in and out.

The official code saves ``g_XXXXXXXX`` as ``{"generator": state_dict}`` and ``do_XXXXXXXX`` with
``mpd``/``msd`` state dicts, using torch's legacy ``weight_norm`` (``<layer>.weight_g``,
``<layer>.weight_v``) and ``spectral_norm`` (``<layer>.weight_orig``, ``weight_u``, ``weight_v``).
seqlab's modules have the same names and use ``torch.nn.utils.parametrizations``, whose tensors are
``<layer>.parametrizations.weight.original0/1`` (weight norm) and ``.original`` / ``.0._u`` /
``.0._v`` (spectral norm). The two layouts differ only by these renames, done here both ways. A
state dict whose weight norm was already removed (plain ``<layer>.weight``) loads too: the norm
is re-split as g = ||w|| per output channel, v = w.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

WN_G, WN_V = "parametrizations.weight.original0", "parametrizations.weight.original1"
SN_W, SN_U, SN_V = (
    "parametrizations.weight.original",
    "parametrizations.weight.0._u",
    "parametrizations.weight.0._v",
)


def _layer(key: str, suffix: str) -> str | None:
    """'a.b.parametrizations.weight.original0' with suffix '...original0' -> 'a.b'."""
    return key[: -len(suffix) - 1] if key.endswith("." + suffix) else None


def to_official(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """seqlab (parametrizations) names -> the official (legacy weight/spectral norm) names.

    Other tensors keep their names (see :func:`save_official_generator` for a generator whose
    weight norm was removed).
    """
    out = {}
    for key, value in state.items():
        for suffix, new in ((WN_G, "weight_g"), (WN_V, "weight_v"), (SN_W, "weight_orig")):
            layer = _layer(key, suffix)
            if layer is not None:
                out[f"{layer}.{new}"] = value
                break
        else:
            layer_u, layer_v = _layer(key, SN_U), _layer(key, SN_V)
            if layer_u is not None:
                out[f"{layer_u}.weight_u"] = value
            elif layer_v is not None:
                out[f"{layer_v}.weight_v"] = value
            else:
                out[key] = value
    return out


def from_official(official: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """An official state dict renamed for ``model`` (seqlab's module with its norms in place).

    Raises:
        KeyError: naming the tensors that are missing or left over, when the layouts differ
            (e.g. a V1 checkpoint given to a V3 model).
    """
    wanted = model.state_dict()
    spectral = {_layer(k, SN_W) for k in wanted if _layer(k, SN_W) is not None}
    out = {}
    for key, value in official.items():
        if key.endswith(".weight_g"):
            out[key[: -len("weight_g")] + WN_G] = value
        elif key.endswith(".weight_orig"):
            out[key[: -len("weight_orig")] + SN_W] = value
        elif key.endswith(".weight_u"):
            out[key[: -len("weight_u")] + SN_U] = value
        elif key.endswith(".weight_v"):
            layer = key[: -len(".weight_v")]
            out[f"{layer}.{SN_V if layer in spectral else WN_V}"] = value
        elif key.endswith(".weight") and f"{key[: -len('weight')]}{WN_G}" in wanted:
            layer = key[: -len("weight")]  # weight norm already removed: split it again
            dims = tuple(range(1, value.dim()))
            out[layer + WN_G] = value.norm(dim=dims, keepdim=True)
            out[layer + WN_V] = value
        else:
            out[key] = value
    missing = sorted(set(wanted) - set(out))
    extra = sorted(set(out) - set(wanted))
    if missing or extra:
        raise KeyError(
            f"the official state dict does not fit this model: missing {missing[:6]}"
            f"{' ...' if len(missing) > 6 else ''}, unexpected {extra[:6]}"
            f"{' ...' if len(extra) > 6 else ''} (is it the same V1/V2/V3 configuration?)"
        )
    for key, value in out.items():
        if value.shape != wanted[key].shape:
            raise KeyError(
                f"{key}: official tensor has shape {tuple(value.shape)}, the model expects "
                f"{tuple(wanted[key].shape)} (is it the same V1/V2/V3 configuration?)"
            )
    return out


def load_official_generator(path: str | Path, generator: nn.Module) -> nn.Module:
    """Load an official ``g_XXXXXXXX`` file (``{"generator": state_dict}``) into ``generator``.

    Only tensors are read (``weights_only=True``): the file may come from anywhere.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such official HiFi-GAN generator checkpoint")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or "generator" not in blob:
        keys = sorted(blob)[:5] if isinstance(blob, dict) else type(blob).__name__
        raise KeyError(
            f"{path} is not an official HiFi-GAN generator checkpoint: expected a dict with key "
            f"'generator', found {keys}"
        )
    generator.load_state_dict(from_official(blob["generator"], generator))
    return generator


def save_official_generator(generator: nn.Module, path: str | Path, config: dict | None = None):
    """Write ``{"generator": state_dict}`` in the official layout (and ``config.json`` beside it,
    with the official keys, when ``config`` is given)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    for key in [k for k in state if k.endswith(".weight") and state[k].dim() >= 2]:
        # weight norm removed (every generator convolution has one in the official code): the
        # official model expects weight_g / weight_v, so split w = g * v / ||v|| with v = w
        weight = state.pop(key)
        layer = key[: -len("weight")]
        state[layer + WN_G] = weight.norm(dim=tuple(range(1, weight.dim())), keepdim=True)
        state[layer + WN_V] = weight
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"generator": to_official(state)}, tmp)
    tmp.replace(path)
    if config is not None:
        (path.parent / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return path
