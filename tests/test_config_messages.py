"""The mistakes a new user makes in a stack file: each exits 2 with one line naming the key, never 0 or 1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore
import pytest
import yaml

from infra.config.errors import ConfigError
from infra.config.loader import parse_stack_config
from infra.config.regions import BOTOCORE, known_regions
from tests.conftest import copy_test_project, stack_file
from tests.test_plan_cli import plan


def test_the_region_list_is_the_pinned_botocores():
    # botocore/data/endpoints.json and botocore/data/partitions.json: partitions[].regions (the SDK's own lists of
    # region names; partitions.json also names *-global pseudo-regions, which are not regions to deploy to)
    found: set[str] = set()
    for name in ("endpoints.json", "partitions.json"):
        data = json.loads((Path(botocore.__file__).parent / "data" / name).read_text())
        found |= {r for p in data["partitions"] for r in p["regions"] if not r.endswith("-global")}
    assert botocore.__version__ == BOTOCORE
    assert list(known_regions()) == sorted(found)
    assert {"us-east-1", "eu-central-1", "us-gov-west-1", "cn-north-1", "me-west-1", "sa-west-1"} <= set(known_regions())


def edited(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The dev test stack's config values after `change` (decoded, as the program sees them)."""
    values = stack_file("dev").values
    change(values)
    return values


def problems(values: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_stack_config("cloudviper", "dev", values)
    return info.value


def workers(values: dict[str, Any]) -> dict[str, Any]:
    return next(g for g in values["cloudviper:nodeGroups"] if g["name"] == "workers")


def test_one_bad_pool_field_is_one_line_naming_the_pool():
    error = problems(edited(lambda v: workers(v).update(maxSize="four")))
    # not also "the cluster needs a system group" or "workers is not a node group; groups: none"
    assert error.problems == ['cloudviper:nodeGroups[workers].maxSize: "four" is not allowed: expected a whole number']
    assert error.note == "checks across sections run once cloudviper:nodeGroups is fixed"
    assert "(checks across sections run once cloudviper:nodeGroups is fixed)" in str(error)


def test_a_repeated_name_keeps_the_index():
    error = problems(edited(lambda v: v["cloudviper:nodeGroups"].append({**workers(v)})))
    assert any(p.startswith('cloudviper:nodeGroups[2].name: "workers" is already used by nodeGroups[1]')
               for p in error.problems), error.problems


def test_an_unquoted_version_is_read_as_written_when_it_can_be():
    cfg = parse_stack_config("cloudviper", "dev", edited(lambda v: v["cloudviper:cluster"].update(version=1.33)))
    assert cfg.cluster is not None and cfg.cluster.version == "1.33"
    error = problems(edited(lambda v: v["cloudviper:cluster"].update(version=1.3)))  # `version: 1.30` in YAML
    assert error.problems[0].startswith('cloudviper:cluster.version: 1.3 is a YAML number, and YAML drops trailing '
                                        'zeros (it may have been written 1.30); write the version as text: version: "1.30"')
    assert yaml.safe_load("version: 1.30")["version"] == 1.3  # why: YAML 1.1 floats, as Pulumi's own YAML reads them


def test_unknown_keys_get_a_suggestion_everywhere():
    error = problems(edited(lambda v: v["cloudviper:dask"]["workers"].update(maximun=3)))
    assert error.problems[0].startswith('cloudviper:dask.workers.maximun: unknown key; did you mean "maximum"?')


def write_dev(project, change: Callable[[dict[str, Any]], None]) -> None:
    doc = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    change(doc["config"])
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


MISTAKES = [
    # a region typo: caught by the config check (one line with the closest region), not by seven policy lines
    (lambda c: c.update({"aws:region": "us-wset-2"}), 'aws:region: "us-wset-2" is not an AWS region; did you mean "us-west-2"?'),
    (lambda c: c["cloudviper:cluster"].update(version=1.3), "cloudviper:cluster.version: 1.3 is a YAML number"),
    (lambda c: c.update({"cloudviper:arkouda": {"image": "bearsrus/arkouda-udp-server:latest"}}),
     'cloudviper:arkouda.image: "bearsrus/arkouda-udp-server:latest" is not pinned'),
    (lambda c: c["cloudviper:dask"].update(image="ghcr.io/dask/dask"), 'cloudviper:dask.image: "ghcr.io/dask/dask" is not pinned'),
    (lambda c: workers(c).update(maxSize="four"), 'cloudviper:nodeGroups[workers].maxSize: "four"'),
]


@pytest.mark.parametrize(("change", "message"), MISTAKES)
def test_each_mistake_exits_2_naming_the_key(tmp_path, change, message):
    project = copy_test_project(tmp_path, ("dev",))
    write_dev(project, change)
    result = plan("--stack", "dev", "--project-dir", str(project))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n  - ") <= 1, result.stderr  # one problem, not a cascade


def test_a_project_dir_without_the_program_is_a_clear_error(tmp_path):
    project = copy_test_project(tmp_path, ("dev",))
    (project / "__main__.py").unlink()
    result = plan("--stack", "dev", "--project-dir", str(project))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"--project-dir {project}: has no __main__.py" in result.stderr
