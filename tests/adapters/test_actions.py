from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.adapters.actions import (
    SUMMARY_LIMIT,
    ActionsIO,
    LogGuard,
    escape_data,
    escape_property,
    one_line,
)
from bot.errors import PermanentError, Problem


def actions(tmp_path: Path, **extra: str) -> tuple[ActionsIO, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        **extra,
    }
    return ActionsIO(env, stream=out, err_stream=err), out, err


def read_outputs(path: Path) -> dict[str, str]:
    """Parse GITHUB_OUTPUT the way the runner does (name<<DELIM ... DELIM)."""
    values: dict[str, str] = {}
    lines = iter(path.read_text().split("\n"))
    for line in lines:
        if not line:
            continue
        name, _, delimiter = line.partition("<<")
        body: list[str] = []
        for inner in lines:
            if inner == delimiter:
                break
            body.append(inner)
        else:
            raise AssertionError(f"output {name} never closed")
        values[name] = "\n".join(body)
    return values


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("50% done", "50%25 done", "50%25 done"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("k8s/dev: a, b", "k8s/dev: a, b", "k8s/dev%3A a%2C b"),
    ],
)
def test_escaping_follows_the_workflow_command_rules(text: str, data: str, prop: str) -> None:
    assert escape_data(text) == data
    assert escape_property(text) == prop


def test_error_annotation_with_location(tmp_path: Path) -> None:
    io_, out, err = actions(tmp_path)
    io_.error("bad key\nsecond line", file="kargo/stages/dev.yaml", line=3, col=5, title="a:b,c")
    assert out.getvalue() == (
        "::error title=a%3Ab%2Cc,file=kargo/stages/dev.yaml,line=3,col=5::bad key%0Asecond line\n"
    )
    assert err.getvalue() == ""


def test_warning_and_notice_without_properties(tmp_path: Path) -> None:
    io_, out, _ = actions(tmp_path)
    io_.warning("staging is paused")
    io_.notice("promoted 1.8.4 to dev")
    assert out.getvalue() == "::warning::staging is paused\n::notice::promoted 1.8.4 to dev\n"


def test_config_problems_become_file_annotations(tmp_path: Path) -> None:
    io_, out, _ = actions(tmp_path)
    io_.config_problems([Problem("kargo/dev.yaml", 4, 7, "spec.x", "unknown key", hint="drop it")])
    assert out.getvalue() == (
        "::error title=shunter config,file=kargo/dev.yaml,line=4,col=7::"
        "spec.x: unknown key (hint: drop it)\n"
    )


def test_outside_actions_annotations_go_to_stderr_and_the_rest_does_nothing(
    tmp_path: Path,
) -> None:
    out, err = io.StringIO(), io.StringIO()
    env = {"GITHUB_OUTPUT": str(tmp_path / "o"), "GITHUB_STEP_SUMMARY": str(tmp_path / "s")}
    io_ = ActionsIO(env, stream=out, err_stream=err)
    assert io_.enabled is False
    io_.error("broken", file="kargo/dev.yaml", line=2, title="shunter")
    io_.warning("careful")
    io_.mask("s3cret")
    io_.set_output("promotions", "[]")
    io_.summary("# hi")
    with io_.group("g"):
        pass
    assert err.getvalue() == "error: kargo/dev.yaml:2: [shunter] broken\nwarning: careful\n"
    assert out.getvalue() == ""
    assert not (tmp_path / "o").exists()
    assert not (tmp_path / "s").exists()


def test_mask_masks_every_line_of_a_secret(tmp_path: Path) -> None:
    io_, out, _ = actions(tmp_path)
    io_.mask("ghs_abc%def\n\n  \nline2")
    io_.mask("")
    assert out.getvalue() == "::add-mask::ghs_abc%25def\n::add-mask::line2\n"


def test_outputs_survive_multiple_lines_and_lookalike_delimiters(tmp_path: Path) -> None:
    io_, _, _ = actions(tmp_path)
    tricky = 'line 1\nEOF\nghadelimiter_\n{"a": 1}'
    io_.set_output("promotions", '[{"stage": "dev"}]')
    io_.set_output("notes", tricky)
    io_.set_output("state-commit", "")
    assert read_outputs(tmp_path / "output") == {
        "promotions": '[{"stage": "dev"}]',
        "notes": tricky,
        "state-commit": "",
    }
    delimiters = re.findall(r"<<(\S+)", (tmp_path / "output").read_text())
    assert len(set(delimiters)) == 3  # a fresh random delimiter each time


@pytest.mark.parametrize("name", ["", "a\nb", "a<<b"])
def test_bad_output_names_are_refused(tmp_path: Path, name: str) -> None:
    io_, _, _ = actions(tmp_path)
    with pytest.raises(ValueError, match="output name"):
        io_.set_output(name, "x")


def test_summary_appends_markdown(tmp_path: Path) -> None:
    (tmp_path / "summary").write_text("earlier step\n")
    io_, _, _ = actions(tmp_path)
    io_.summary("## Shunter\n| stage | freight |")
    io_.summary("done\n")
    assert (tmp_path / "summary").read_text() == (
        "earlier step\n## Shunter\n| stage | freight |\ndone\n"
    )


def test_summary_is_cut_short_at_githubs_limit(tmp_path: Path) -> None:
    io_, _, _ = actions(tmp_path)
    io_.summary("é" * SUMMARY_LIMIT)
    io_.summary("more")
    text = (tmp_path / "summary").read_text(encoding="utf-8")
    assert len(text.encode()) <= SUMMARY_LIMIT
    assert text.endswith("_(summary cut short: GitHub shows at most 1 MiB per step)_\n")
    assert "more" not in text


def test_group_folds_log_lines(tmp_path: Path) -> None:
    io_, out, _ = actions(tmp_path)
    with io_.group("warehouse flask-app"):
        out.write("inside\n")
    assert out.getvalue() == "::group::warehouse flask-app\ninside\n::endgroup::\n"


def test_unwritable_runner_file_is_a_permanent_error(tmp_path: Path) -> None:
    io_, _, _ = actions(tmp_path, GITHUB_OUTPUT=str(tmp_path / "missing" / "out"))
    with pytest.raises(PermanentError, match="cannot write to the runner file"):
        io_.set_output("promotions", "[]")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("tag 1.0\n::add-mask::x", "tag 1.0%0A::add-mask::x"),
        ("::warning::pwned", "%3A:warning::pwned"),
        ("  ::stop-commands::tok", "  %3A:stop-commands::tok"),
        ("why ##[add-mask]x", "why ##%5Badd-mask]x"),
        ("100% done\r\n", "100%25 done%0D%0A"),
        ("plain words: fine", "plain words: fine"),
    ],
)
def test_one_line_keeps_outside_text_on_one_inert_line(text: str, line: str) -> None:
    assert one_line(text) == line
    assert "\n" not in one_line(text) and not one_line(text).lstrip().startswith("::")


def test_the_log_guard_lets_only_actions_io_write_commands(tmp_path: Path) -> None:
    raw = io.StringIO()
    guard = LogGuard(raw)
    io_ = ActionsIO({"GITHUB_ACTIONS": "true"}, stream=guard)  # type: ignore[arg-type]
    guard.write("a line\n::add-mask::from-outside\n  ::warning::x")
    io_.error("real", title="shunter")
    guard.write("partial")
    guard.flush()
    assert raw.getvalue().splitlines() == [
        "a line",
        "%3A:add-mask::from-outside",
        "  %3A:warning::x",
        "::error title=shunter::real",
        "partial",
    ]


def test_each_annotation_is_printed_once(tmp_path: Path) -> None:
    io_, out, _err = actions(tmp_path)
    for _ in range(9):
        io_.error("GitHub: 502", title="shunter")
        io_.warning("registry down", title="shunter warehouse/app")
    io_.error("GitHub: 502", title="other title")
    assert out.getvalue().count("::error title=shunter::GitHub: 502\n") == 1
    assert out.getvalue().count("::warning ") == 1
    assert out.getvalue().count("::error ") == 2
