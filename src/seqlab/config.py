"""Configs: Hydra composition of the experiments shipped in ``seqlab/configs``, and overrides on saved configs.

An experiment (``configs/experiment/<name>.yaml``) picks one option per group (model, data, optimizer,
lr_scheduler, trainer, writer, augment, decoder) in its defaults list and sets its own keys. Command-line
overrides use Hydra's grammar: ``a.b=v`` changes a key, ``+a.b=v`` adds one, ``~a.b`` deletes one, and
``group=option`` swaps a whole group (``data=librispeech``). Configs are in struct mode, so a misspelt key
fails at once with its name and the closest existing keys.
"""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path

import yaml
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf, open_dict

CONFIG_MODULE = "seqlab.configs"
GROUPS = ("model", "data", "optimizer", "lr_scheduler", "trainer", "writer", "augment", "decoder")


class ConfigError(ValueError):
    """A config or an override the user gave cannot be applied; the message says what to do."""


def quote_override(value) -> str:
    """``value`` quoted for a Hydra override (``decoder.lm='/a b/lm=1.arpa'``), so that paths
    and names holding ``=``, ``,``, spaces or quotes survive Hydra's grammar."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _configs_dir() -> Path:
    return Path(str(resources.files(CONFIG_MODULE)))


def list_experiments() -> dict[str, str]:
    """Names of the shipped experiments with the first line of their description comment."""
    out = {}
    for path in sorted((_configs_dir() / "experiment").glob("*.yaml")):
        first = ""
        for line in path.read_text().splitlines():
            if line.startswith("#") and "@package" not in line:
                first = line.lstrip("# ").strip()
                break
        out[path.stem] = first
    return out


def list_group_options(group: str) -> list[str]:
    """Options of one config group, e.g. ``list_group_options("model")``."""
    return sorted(p.stem for p in (_configs_dir() / group).glob("*.yaml"))


def _suggest(key: str, cfg: DictConfig) -> str:
    """A hint naming the existing keys closest to a misspelt dotted ``key``."""
    parent_path, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent_path) if parent_path else cfg
    if not isinstance(node, DictConfig):
        return ""
    close = difflib.get_close_matches(leaf, [str(k) for k in node.keys()], n=3, cutoff=0.5)
    prefix = f"{parent_path}." if parent_path else ""
    return f" Did you mean: {', '.join(prefix + c for c in close)}?" if close else ""


def compose_experiment(experiment: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Compose ``configs/experiment/<experiment>.yaml`` with command-line ``overrides``.

    Returns the resolved config (interpolations evaluated), in struct mode.
    Raises ``ConfigError`` naming an unknown experiment, group option or key.
    """
    known = list_experiments()
    if experiment not in known:
        close = difflib.get_close_matches(experiment, list(known), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(
            f"unknown experiment '{experiment}'.{hint} Available: {', '.join(known)} (see `seqlab list`)."
        )
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(config_name=f"experiment/{experiment}", overrides=list(overrides))
    except ConfigCompositionException as err:
        raise ConfigError(_explain_composition_error(err, experiment, overrides)) from err
    finally:
        GlobalHydra.instance().clear()
    cfg = _resolved(cfg)
    _check_override_types(experiment, overrides, cfg)
    return cfg


_EXPECTED = {
    bool: "a boolean (true or false)",
    int: "an integer",
    float: "a number",
    str: "a string",
}


def _type_error(key: str, text: str, value, default) -> str | None:
    """Why an override ``key=text`` (parsed to ``value``) cannot replace ``default``, or None.

    Scalars only (int, float, bool, str; null on either side is always fine); a float key takes
    an int, a string key takes a number (names like ``2020`` are strings to the user)."""
    scalars = (bool, int, float, str)
    if value is None or default is None or (isinstance(value, str) and "${" in value):
        return None  # null, or an interpolation (checked once resolved)
    if not isinstance(value, scalars) or not isinstance(default, scalars):
        return None
    kind = type(default)
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = not isinstance(value, bool)
    if ok:
        return None
    shown = str(default).lower() if kind is bool else str(default)  # as on a command line
    quoted = repr(shown) if kind is str else shown
    hint = f" (quote it to pass the text: {key}='{text}')" if kind is str else ""
    return (
        f"{key}: {text!r} is not {_EXPECTED[kind]} (the default is {quoted}){hint}; "
        f"e.g. {key}={shown}"
    )


def _check_override_types(experiment: str, overrides, cfg: DictConfig) -> None:
    """Raise a ``ConfigError`` for an override whose value has another type than the key's value
    in the experiment (composed with the same group choices): caught here, before anything is
    built or written, instead of as a traceback from deep inside a run."""
    parser = OverridesParser.create()
    parsed = list(zip(overrides, parser.parse_overrides(list(overrides)), strict=True))
    values = {  # key -> its last override (the one that counts)
        ov.key_or_group: text
        for text, ov in parsed
        if not (ov.is_delete() or ov.is_add()) and ov.key_or_group not in GROUPS
    }
    if not values:
        return
    groups = [text for text, ov in parsed if ov.key_or_group in GROUPS and not ov.is_delete()]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            base = compose(config_name=f"experiment/{experiment}", overrides=groups)
        base = OmegaConf.create(OmegaConf.to_container(base, resolve=True))
    except Exception:  # the defaults cannot be composed alone: nothing to compare with
        return
    finally:
        GlobalHydra.instance().clear()
    for key, text in values.items():
        default = OmegaConf.select(base, key, default=None)
        value = OmegaConf.select(cfg, key, default=None)
        error = _type_error(key, text.split("=", 1)[1], value, default)
        if error:
            raise ConfigError(f"cannot apply overrides to experiment '{experiment}': {error}")


def _explain_composition_error(err: Exception, experiment: str, overrides) -> str:
    msg = str(err).split("\nConfig search path")[0].strip()
    cause = err.__cause__ or err.__context__
    if cause is not None and str(cause) not in msg:
        msg = f"{msg} ({str(cause).splitlines()[0]})"
    for ov in overrides:
        key = ov.split("=", 1)[0].lstrip("+~")
        if key in GROUPS and f"'{key}/" in msg:
            break  # Hydra already lists the group's options
        if f"'{key}'" in msg or f" {key}" in msg:
            try:
                with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
                    base = compose(config_name=f"experiment/{experiment}")
                msg += _suggest(key, base)
            except Exception:  # the hint is best effort; the original message stands
                pass
            finally:
                GlobalHydra.instance().clear()
            break
    return f"cannot apply overrides to experiment '{experiment}': {msg}"


def _resolved(cfg: DictConfig) -> DictConfig:
    """A resolved copy in struct mode (so later typos fail too)."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(
            "these config values are required but not set: "
            + ", ".join(missing)
            + f" (e.g. `{missing[0]}=...` on the command line)"
        )
    container = OmegaConf.to_container(cfg, resolve=True)
    out = OmegaConf.create(container)
    OmegaConf.set_struct(out, True)
    return out


def load_config(path: str | Path) -> DictConfig:
    """Read a saved (resolved) config YAML, in struct mode."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    cfg = OmegaConf.load(path)
    OmegaConf.set_struct(cfg, True)
    return cfg


def load_group_option(group: str, option: str) -> DictConfig:
    """``configs/<group>/<option>.yaml`` with its own defaults list (options of the same group) applied."""
    option_file = _configs_dir() / group / f"{option}.yaml"
    if not option_file.is_file():
        raise ConfigError(
            f"no option '{option}' in config group '{group}'. "
            f"Options: {', '.join(list_group_options(group))}."
        )
    raw = yaml.safe_load(option_file.read_text()) or {}
    merged = OmegaConf.create({})
    for parent in raw.pop("defaults", None) or []:
        if parent != "_self_":
            merged = OmegaConf.merge(merged, load_group_option(group, str(parent)))
    return OmegaConf.merge(merged, OmegaConf.create(raw))


def apply_overrides(cfg: DictConfig, overrides: list[str] | tuple[str, ...]) -> DictConfig:
    """Apply Hydra-grammar ``overrides`` to an already composed (e.g. saved) config.

    ``group=option`` replaces the group with ``configs/<group>/<option>.yaml``; ``a.b=v`` must name an
    existing key; ``+a.b=v`` adds one; ``~a.b`` deletes one. Returns a new struct-mode config.
    """
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    OmegaConf.set_struct(cfg, True)
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    for ov in parsed:
        key = ov.key_or_group
        if ov.is_delete():
            if OmegaConf.select(cfg, key, default=None) is None and key not in cfg:
                raise ConfigError(f"cannot delete '{key}': no such key.{_suggest(key, cfg)}")
            parent_path, _, leaf = key.rpartition(".")
            parent = OmegaConf.select(cfg, parent_path) if parent_path else cfg
            with open_dict(parent):
                del parent[leaf]
            continue
        value = ov.value()
        if key in GROUPS and isinstance(value, str) and not ov.is_add():
            with open_dict(cfg):
                cfg[key] = load_group_option(key, value)
            continue
        if ov.is_add():
            with open_dict(cfg):
                OmegaConf.update(cfg, key, value, force_add=True)
            continue
        exists = True
        try:
            OmegaConf.select(cfg, key, throw_on_missing=False)
            parent_path, _, leaf = key.rpartition(".")
            parent = OmegaConf.select(cfg, parent_path) if parent_path else cfg
            exists = isinstance(parent, DictConfig) and leaf in parent.keys()
        except Exception:
            exists = False
        if not exists:
            raise ConfigError(
                f"unknown config key '{key}'.{_suggest(key, cfg)} To add a new key use '+{key}=...'."
            )
        text = ov.input_line.split("=", 1)[1]
        error = _type_error(key, text, value, OmegaConf.select(cfg, key, default=None))
        if error:
            raise ConfigError(f"cannot apply override {error}")
        OmegaConf.update(cfg, key, value, merge=False)
    return _resolved(cfg)


def to_yaml(cfg: DictConfig) -> str:
    """The config as YAML text (resolved)."""
    return OmegaConf.to_yaml(cfg, resolve=True)
