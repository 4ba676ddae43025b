"""How the job pages lay metrics out: groups by prefix, key metrics first, empty series hidden, the best
run per metric, the log without terminal escapes (no database)."""

from training_jobs.panels import best_index, direction, panel_groups, strip_ansi


def test_metrics_are_grouped_by_prefix_key_metrics_first_and_flat_zero_series_hidden():
    series = {
        "kl": [0.1, 0.2],
        "loss": [1.0, 0.8],
        "rules/internal_term": [0.5, 0.25],
        "reward/e_judge": [0.0, 0.0],  # no judge configured: flat zero
        "reward/r_total": [0.1, 0.3],
        "judge/failures": [None, None],
        "learning_rate": [1e-5, 1e-5],
    }
    groups = panel_groups(series)
    assert [g["name"] for g in groups] == ["reward", "train", "rules", "judge"]
    assert groups[0] == {"name": "reward", "metrics": ["reward/r_total"], "hidden": ["reward/e_judge"]}
    assert groups[1]["metrics"] == ["loss", "kl", "learning_rate"]
    assert groups[3] == {"name": "judge", "metrics": [], "hidden": ["judge/failures"]}


def test_direction_and_best_run_per_metric():
    assert direction("reward/r_total") == 1 and direction("eval/accuracy") == 1 and direction("reward/e_func") == 1
    assert direction("loss") == -1 and direction("kl") == -1 and direction("rules/internal_term") == -1
    assert direction("learning_rate") == 0
    assert best_index([0.2, 0.5, None], "reward/r_total") == 1
    assert best_index([0.2, 0.5], "loss") == 0
    assert best_index([0.2, 0.5], "learning_rate") is None  # no direction: nothing marked
    assert best_index([0.3, 0.3], "loss") is None  # a tie marks nothing
    assert best_index([0.3, None], "loss") is None  # one run with a value: nothing to compare


def test_log_loses_colour_codes_and_progress_bar_redraws():
    raw = "\x1b[32mINFO\x1b[0m start\n 10%|#    | 1/10\r 50%|#####     | 5/10\r100%|##########| 10/10\ndone\n"
    assert strip_ansi(raw) == "INFO start\n100%|##########| 10/10\ndone\n"
