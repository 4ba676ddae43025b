"""The background build of the per-machine models (``tests.fixtures.engine``): started only for what the
collected tests use, at a low priority, through the same ``engine.bootstrap`` calls as the fixtures."""

from types import SimpleNamespace

import pytest

from tests.fixtures.engine import TINY_SEED, prebuild_command, prebuild_needs


def item(*fixtures: str, skipped: bool = False):
    return SimpleNamespace(fixturenames=list(fixtures), get_closest_marker=lambda name: skipped or None)


@pytest.mark.parametrize(
    ("items", "needs"),
    [
        ([item("db"), item("client")], []),
        ([item("db", "tiny_model")], ["tiny"]),
        ([item("tiny_model"), item("demo_judge", "tiny_model")], ["tiny", "judge"]),
        ([item("demo_judge")], ["tiny", "judge"]),  # the judge is an adapter of the tiny base
        ([item("demo_judge", "tiny_model", skipped=True), item("db")], []),  # skipped tests build nothing
    ],
)
def test_only_what_the_collected_tests_use_is_built(items, needs):
    assert prebuild_needs(items) == needs


def test_the_build_runs_niced_through_the_fixtures_own_calls():
    tiny = prebuild_command(["tiny"])
    assert tiny[:3] == ["nice", "-n", "10"]
    assert f"ensure_tiny_model(seed={TINY_SEED})" in tiny[-1] and "ensure_demo_judge(" not in tiny[-1]
    both = prebuild_command(["tiny", "judge"])[-1]
    assert both.index("ensure_tiny_model(") < both.index(f"ensure_demo_judge(seed=0, base_seed={TINY_SEED})")
    compile(both, "prebuild", "exec")
