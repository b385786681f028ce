"""The 12-week course plan (``tools/course.py`` and ``chapters/course_plan.md``): every chapter is
taught, every assignment is set and due in the term, the page's weeks are the plan's weeks, every
substitution it uses is generated, and it repeats none of the statements the chapters contradict."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from tools import course, runtimes

REPO = Path(__file__).resolve().parent.parent
PLAN = REPO / "chapters" / "course_plan.md"
PAGES = [PLAN, REPO / "chapters" / "running_the_book.md", REPO / "intro.md"]


def test_twelve_weeks_teach_every_chapter():
    assert [w.number for w in course.WEEKS] == list(range(1, 13))
    taught = {stem for week in course.WEEKS for stem in week.chapters}
    assert set(runtimes.BOOK_CHAPTERS) <= taught, set(runtimes.BOOK_CHAPTERS) - taught


def test_every_assignment_is_set_once_and_due_later_in_the_term():
    written = {p.stem for p in course.ASSIGNMENTS.glob("*.ipynb")}
    setting = [w for w in course.WEEKS if w.sets]
    assert sorted(w.sets for w in setting) == sorted(written)
    for week in setting:
        assert week.number < week.due <= 12, week
        info = course.assignment_info(week.sets)
        taught_by_then = {s for w in course.WEEKS if w.number <= week.due for s in w.chapters}
        assert set(info["chapters"]) <= taught_by_then, (week.sets, info["chapters"])


def test_page_has_the_plan_s_weeks_in_order():
    headings = re.findall(r"^### Week (\d+) — (.+)$", PLAN.read_text(encoding="utf-8"), re.M)
    assert [(int(n), title) for n, title in headings] == [(w.number, w.title) for w in course.WEEKS]


def test_every_substitution_on_the_page_is_generated():
    used = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", PLAN.read_text(encoding="utf-8")))
    defined = set(runtimes.substitutions()) | set(course.substitutions())
    assert used <= defined, used - defined
    assert {f"runtime_week_{w.number}" for w in course.WEEKS} <= used


def _table(rows):
    return pd.DataFrame(rows, columns=["chapter", "title", "code_cells", "seconds", "runtime", "executed"])


def test_week_runtime_sums_the_week_s_notebooks():
    table = _table([("00_getting_started", "", 3, 25.0, "25 s", ""),
                    ("01_spotify_baseline", "", 9, 95.0, "1 min 35 s", ""),
                    ("03_spectrograms_and_mfccs", "", 9, 65.0, "1 min 05 s", ""),
                    ("08_evaluation", "", 9, math.nan, runtimes.NOT_TIMED, "")])
    weeks = {w.number: w for w in course.WEEKS}
    first = course.week_runtime(weeks[1], table)
    assert first["seconds"] == 120.0 and first["text"] == "2 min 00 s: 25 s (ch. 0) + 1 min 35 s (ch. 1)"
    third = course.week_runtime(weeks[3], table)
    assert third["shared"] == ["03_spectrograms_and_mfccs"]
    assert third["text"] == "1 min 05 s (the whole notebook; chapter 3 is taught in weeks 3–4)"
    ninth = course.week_runtime(weeks[9], table)
    assert math.isnan(ninth["seconds"]) and runtimes.NOT_TIMED in ninth["text"]
    twelfth = course.week_runtime(weeks[12], table)  # a chapter missing from the table
    assert runtimes.NOT_IN_BOOK in twelfth["text"]


def test_schedule_and_assignment_tables():
    schedule = course.schedule_markdown()
    assert schedule.count("\n") == 12 + 1 and "set: `a2_sound_spectra_mfccs` (due week 6)" in schedule
    table = course.assignments_markdown()
    for week in course.WEEKS:
        if week.sets:
            assert f"`{week.sets}`" in table
    assert "*not yet written*" in course.assignments_markdown(REPO / "no-such-folder")


#: Statements that a page of the book once made and the chapters contradict: (pattern, why).
CONTRADICTED = [
    (r"beat (them|the networks?) with logistic regression",
     "chapter 1: logistic regression scores below the networks; comparisons need a paired test"),
    (r"licen[cs]e is unknown", "chapter 2: GTZAN comes with no licence that lets anyone republish its audio"),
    (r"\bseven sessions\b", "the plan has twelve weekly sessions"),
    (r"estimate, not (a )?measure", "full-GTZAN runtimes are measured by the full-scale rehearsal"),
    (r"roughly ten times", "the rehearsal measures each chapter's factor; it is not ten"),
    (r"split \*?segments\*? of clips at random", "the report says only 75:25; the segment split is an inference"),
]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_repeat_no_contradicted_statement(page):
    text = " ".join(page.read_text(encoding="utf-8").split())
    found = [f"{pattern!r}: {why}" for pattern, why in CONTRADICTED if re.search(pattern, text, re.I)]
    assert not found, f"{page.name} says what the chapters contradict:\n" + "\n".join(found)


def test_gpu_runtimes_are_said_once_to_be_unmeasured():
    text = " ".join(PLAN.read_text(encoding="utf-8").split())
    assert text.count("No GPU runtime has been measured") == 1
    assert not re.search(r"GPU[^.]*\b\d+(\.\d+)? ?(s|min)\b", text), "a GPU runtime is typed on the page"
