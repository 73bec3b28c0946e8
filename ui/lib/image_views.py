"""Study page sections of image studies: the augmentation previews and the VAE's reconstruction loss.

A study saves one PNG per searched augmentation policy under `report/augment/<policy>.png`: a row
per training image (one per class, up to 4), the original then augmented views of it. They are
read through the Store, so they show the same for a local directory or s3://.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow.fs as pafs
import streamlit as st

from automl.image.augment import POLICIES
from automl.manifest import Manifest
from automl.store import Store
from ui.lib import formatting as fmt

PREVIEW_DIR = "report/augment"


def policy_note(policy: str) -> str:
    """The policy's description from its registry entry (automl/image/augment.py), the one place it is
    written; a policy this version no longer has (an old study) is named only."""
    return POLICIES.describe(policy) if policy in POLICIES else "augmentation policy"


def _searched_policies(manifest: Manifest) -> list[str]:
    spec = (manifest.space.get("parameters") or {}).get("augment") or {}
    values = spec.get("values") if spec.get("type") == "choice" else None
    return [str(v) for v in values or []]


def preview_files(store: Store, manifest: Manifest | dict[str, Any]) -> list[tuple[str, str]]:
    """(policy, path under the study) of every stored preview: searched policies first, in search order."""
    manifest = Manifest.of(manifest)
    study_id = manifest.study_id
    folder = f"{store.root}/{study_id}/{PREVIEW_DIR}"
    try:
        infos = store.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        found = {
            i.base_name.removesuffix(".png")
            for i in infos
            if i.type == pafs.FileType.File and i.base_name.endswith(".png")
        }
    except OSError:  # a store that cannot list: try the searched policies one by one
        found = {p for p in _searched_policies(manifest) if store.exists(study_id, f"{PREVIEW_DIR}/{p}.png")}
    searched = [p for p in _searched_policies(manifest) if p in found]
    ordered = searched + sorted(found - set(searched))
    return [(policy, f"{PREVIEW_DIR}/{policy}.png") for policy in ordered]


def vae_recon_loss(board: pd.DataFrame | None) -> tuple[float, int] | None:
    """(mean reconstruction loss, number of trials) of the trials that trained a VAE; None when none did."""
    if board is None or "synth_recon_loss" not in board:
        return None
    losses = pd.to_numeric(board["synth_recon_loss"], errors="coerce")
    if "param_synth_method" in board:
        losses = losses[board["param_synth_method"].astype(str) == "vae"]
    losses = losses.dropna()
    if losses.empty:
        return None
    return float(losses.mean()), int(len(losses))


def augmentation_previews(store: Store, manifest: Manifest, board: pd.DataFrame | None) -> None:
    """Each searched augmentation policy's preview grid with its name, then the VAE note."""
    chosen = manifest.best.config.get("augment") if manifest.best else None
    files = preview_files(store, manifest)
    if not files:
        st.info("This study stored no augmentation previews.")
    else:
        st.markdown(
            "One grid per augmentation policy the search tried. Each row is a training image (one per class, "
            "up to 4): first the original, then augmented views as a trial with that policy saw them."
            + (f" The chosen configuration uses **{chosen}**." if chosen else "")
        )
    study_id = manifest.study_id
    for policy, path in files:
        title = f"{policy} (chosen)" if policy == chosen else policy
        st.markdown(f"##### {title}")
        try:
            png = store.read_bytes(study_id, path)
        except Exception as exc:  # one unreadable file must not hide the others
            st.warning(f"The preview {path} cannot be read: {exc}")
            continue
        st.image(png, caption=f"{policy}: {policy_note(policy)}")

    st.markdown("##### Synthetic images (VAE)")
    recon = vae_recon_loss(board)
    if recon is None:
        st.caption("No trial trained a VAE to generate synthetic images.")
        return
    mean, count = recon
    st.metric(
        "mean VAE reconstruction loss",
        fmt.score(mean),
        help="Mean over the trials that used the VAE; lower means the VAE reproduces the images more closely.",
    )
    st.caption(
        f"{count} trial(s) trained a class-conditional VAE on their training images and added images sampled "
        "from it. The loss is the mean per-pixel squared error (pixels in 0 to 1) of the training images "
        "reconstructed by the trained VAE."
    )
