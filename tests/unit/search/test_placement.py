"""Trial resources no node can hold (automl/search/placement.py): refused on a local Ray with what a trial
asks for and what the machine has (issue 24: `--cpus-per-trial 1000` ran, then blamed the budget), noted
on a cluster whose autoscaler may still add such a node."""

from __future__ import annotations

import re

import pytest

from automl.config import Resources
from automl.errors import ConfigError
from automl.search.placement import check_placement, placement_message


def test_a_trial_larger_than_the_local_ray_is_refused(ray_session, monkeypatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    message = (
        "No trial can be placed with the requested resources: each trial asks for 1000 CPUs and 0 GPUs on one "
        "node, and this Ray has 2 CPUs and 0 GPUs. Lower --cpus-per-trial to at most 2, or run on a machine or "
        "Ray cluster (RAY_ADDRESS) that has them."
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        check_placement(Resources(cpus_per_trial=1000), print)
    with pytest.raises(
        ConfigError, match=re.escape("and 2 GPUs on one node, and this Ray has 2 CPUs and 0 GPUs")
    ):
        check_placement(Resources(gpus_per_trial=2), print)


def test_trials_that_fit_pass_and_a_cluster_only_notes_the_wait(ray_session, monkeypatch, capsys) -> None:
    notes: list[str] = []
    check_placement(Resources(cpus_per_trial=2), notes.append)  # the whole machine: fits
    check_placement(Resources(cpus_per_trial=0.5, gpus_per_trial=None), notes.append)  # no GPU: 0 asked
    assert notes == []
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")  # as inside a Ray Job: an autoscaler may add nodes
    check_placement(Resources(cpus_per_trial=8), notes.append)
    assert notes == [
        "note: No trial can be placed with the requested resources: each trial asks for 8 CPUs and 0 GPUs on "
        "one node, and this Ray has 2 CPUs and 0 GPUs. Lower --cpus-per-trial to at most 2, or run on a machine "
        "or Ray cluster (RAY_ADDRESS) that has them. The trials wait until the cluster adds such a node."
    ]
    check_placement(Resources(cpus_per_trial=8))  # without a log: stderr, as the CLI's
    assert capsys.readouterr().err == f"[automl] {notes[0]}\n"


def test_the_message_for_several_nodes() -> None:
    nodes = [{"CPU": 4.0}, {"CPU": 1.0, "GPU": 1.0}]
    assert placement_message(2, 1, nodes) == (
        "No trial can be placed with the requested resources: each trial asks for 2 CPUs and 1 GPU on one node, "
        "and this Ray's 2 nodes have at most 4 CPUs and at most 1 GPU each (5 CPUs and 1 GPU in all). Lower "
        "--cpus-per-trial or --gpus-per-trial until one node holds both, or run on a machine or Ray cluster "
        "(RAY_ADDRESS) that has them."
    )
    assert placement_message(0.5, 2.5, nodes).startswith(
        "No trial can be placed with the requested resources: each trial asks for 0.5 CPUs and 2.5 GPUs"
    )
    assert "Lower --gpus-per-trial to at most 1," in placement_message(0.5, 2.5, nodes)
