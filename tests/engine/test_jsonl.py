import pytest

from engine.configio import ConfigError
from engine.jsonl import iter_jsonl
from engine.train.ppo_data import read_prompt_rows


def test_rows_come_with_their_line_numbers_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (3, {"a": 2})]


@pytest.mark.parametrize("line, message", [("{broken", "not JSON"), ("[1, 2]", "must be a JSON object")])
def test_a_bad_line_names_its_file_and_line(tmp_path, line, message):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"rows.jsonl:2: {message}"):
        list(iter_jsonl(path))


def test_the_ppo_prompt_reader_reports_broken_json_by_line(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="prompts.jsonl:1: not JSON"):
        read_prompt_rows([str(path)])
