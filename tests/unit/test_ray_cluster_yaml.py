"""ray_cluster.yaml is a valid Ray cluster-launcher config (checked against the schema inside the ray package)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import ray
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "ray_cluster.yaml").read_text())


def test_matches_the_launcher_schema_shipped_with_ray():
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    jsonschema.validate(CONFIG, schema)


def test_docker_image_matches_the_ray_version_the_project_pins():
    pinned = re.search(r'"ray\[[^\]]*\]==([\d.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert pinned == ray.__version__
    assert CONFIG["docker"]["image"].startswith(f"rayproject/ray:{pinned}-")
    assert CONFIG["docker"]["image"].endswith("-gpu")


def test_cpu_head_and_gpu_workers_that_scale_from_zero():
    types = CONFIG["available_node_types"]
    head = types[CONFIG["head_node_type"]]
    assert head["resources"] == {"CPU": 0}
    assert not head["node_config"]["InstanceType"].startswith(("g", "p"))
    workers = [t for name, t in types.items() if name != CONFIG["head_node_type"]]
    assert workers and all(w["min_workers"] == 0 for w in workers)
    assert any(w["node_config"]["InstanceType"].startswith(("g", "p")) for w in workers)
    assert any("pip install" in c and "/home/ray/automl" in c for c in CONFIG["setup_commands"])


def test_no_secrets_and_no_open_dashboard():
    text = (ROOT / "ray_cluster.yaml").read_text()
    assert not re.search(
        r"AKIA[0-9A-Z]{16}|aws_secret_access_key|BEGIN [A-Z ]*PRIVATE KEY|token:", text, re.I
    )
    head_start = " ".join(CONFIG["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start
