"""The 12-week course plan as data: which chapters each week teaches, and which assignment it sets.

Explained in the teachers' page *Course plan* (``chapters/course_plan.md``). The page's prose (the
objectives, preparation and in-class path of each week) is written there; what can go stale is
generated here, when the book is built, from the notebooks themselves:

- ``{{ course_schedule }}``: the term at a glance — week, session, chapters, homework, and the
  measured CPU runtime of the week's notebooks (the sum of their stored cell times,
  :mod:`tools.runtimes`);
- ``{{ course_assignments }}``: the assignments (``assignments/*.ipynb``): part, chapters, questions,
  points, the week each is set and due;
- ``{{ runtime_week_N }}``: one week's runtime, for the week-by-week sections (and
  ``{{ exercises_<chapter> }}`` for every chapter of the plan, as :mod:`tools.runtimes` writes it).

Command line: ``python -m tools.course`` prints the two tables. As a Sphinx extension
(``sphinx.local_extensions`` in ``_config.yml``) it adds the substitutions above.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tools.runtimes import (
    NOT_IN_BOOK,
    NOT_TIMED,
    REPO,
    exercises_markdown,
    format_seconds,
    runtime_table,
)
from tools.solutions import ASSIGNMENTS, questions, read_notebook


@dataclass(frozen=True)
class Week:
    """One weekly session: its number, title, chapters (stems) and the assignment it sets, if any."""

    number: int
    title: str
    chapters: tuple[str, ...]
    sets: str | None = None  # an assignment's stem
    due: int | None = None  # the week whose session it is due at


#: The term. Chapter 3 is taught over two weeks (§3.1–3.7, then §3.8–3.12); every other chapter in one.
WEEKS: tuple[Week, ...] = (
    Week(1, "Getting started and a first baseline", ("00_getting_started", "01_spotify_baseline"),
         sets="a1_first_baseline", due=3),
    Week(2, "Sound as numbers", ("02_sound_and_sampling",)),
    Week(3, "Spectrograms and the mel scale", ("03_spectrograms_and_mfccs",)),
    Week(4, "Cepstrum and MFCCs from scratch", ("03_spectrograms_and_mfccs",),
         sets="a2_sound_spectra_mfccs", due=6),
    Week(5, "GTZAN and its faults", ("04_gtzan",)),
    Week(6, "From audio to features, and the leak", ("05_features",), sets="a3_gtzan_and_features", due=8),
    Week(7, "A CNN on MFCCs", ("06_cnn",)),
    Week(8, "An LSTM on MFCC sequences", ("07_lstm",)),
    Week(9, "Honest evaluation", ("08_evaluation",), sets="a4_networks_and_evaluation", due=11),
    Week(10, "Beyond: fusion, spectrograms, augmentation", ("09_beyond",)),
    Week(11, "Transfer learning", ("10_transfer_learning",), sets="a5_going_further", due=12),
    Week(12, "Scaling out, and the projects", ("11_scaling_out",)),
)


def chapter_number(stem: str) -> str:
    return str(int(stem[:2]))


def week_runtime(week: Week, table=None) -> dict:
    """The measured CPU runtime of a week's notebooks: ``seconds`` (NaN when one is not timed), ``text`` (for the page) and ``shared`` (chapters taught over more than one week)."""
    table = runtime_table() if table is None else table
    rows = table.set_index("chapter")
    parts, total, missing = [], 0.0, []
    shared = [s for s in week.chapters if sum(s in w.chapters for w in WEEKS) > 1]
    for stem in week.chapters:
        runtime = rows.loc[stem, "runtime"] if stem in rows.index else NOT_IN_BOOK
        seconds = rows.loc[stem, "seconds"] if stem in rows.index else math.nan
        if not math.isfinite(seconds):
            missing.append(f"chapter {chapter_number(stem)}: {runtime}")
        else:
            total += seconds
            parts.append(f"{format_seconds(seconds)} (ch. {chapter_number(stem)})")
    if missing:
        text = "; ".join(parts + missing)
        seconds = math.nan
    else:
        text = format_seconds(total) if len(parts) == 1 else f"{format_seconds(total)}: " + " + ".join(parts)
        seconds = total
    for stem in shared:
        weeks = [w.number for w in WEEKS if stem in w.chapters]
        text += f" (the whole notebook; chapter {chapter_number(stem)} is taught in weeks {weeks[0]}–{weeks[-1]})"
    return {"seconds": seconds, "text": text, "shared": shared}


def assignment_info(stem: str, folder: Path | None = None) -> dict | None:
    """Part, chapters, number of questions and points of an assignment (``None`` if it does not exist)."""
    path = (folder or ASSIGNMENTS) / f"{stem}.ipynb"
    if not path.is_file():
        return None
    nb = read_notebook(path)
    found = questions(nb)
    meta = nb.get("metadata", {}).get("assignment", {})
    return {"stem": stem, "part": meta.get("part", ""), "chapters": meta.get("chapters", []),
            "questions": len(found), "points": sum(q["points"] for q in found), "status": meta.get("status", "")}


def _chapters_text(stems) -> str:
    numbers = [chapter_number(s) for s in dict.fromkeys(stems)]
    return ("chapter " if len(numbers) == 1 else "chapters ") + ", ".join(numbers)


def schedule_markdown(table=None) -> str:
    """The term at a glance, as a Markdown table."""
    table = runtime_table() if table is None else table
    lines = ["| Week | Session | Chapters | Homework | Runtime of its notebooks (2-core CPU, mini) |",
             "|---:|---|---|---|---|"]
    due = {w.due: w.sets for w in WEEKS if w.sets}
    for week in WEEKS:
        homework = []
        if week.sets:
            homework.append(f"set: `{week.sets}` (due week {week.due})")
        if week.number in due:
            homework.append(f"due: `{due[week.number]}`")
        lines.append(f"| {week.number} | {week.title} | {_chapters_text(week.chapters)} | "
                     f"{'; '.join(homework) or '—'} | {week_runtime(week, table)['text']} |")
    return "\n".join(lines)


def assignments_markdown(folder: Path | None = None) -> str:
    """The assignments the term sets, as a Markdown table (generated from their notebooks)."""
    lines = ["| Assignment | Part | Chapters | Questions | Points | Set | Due |", "|---|---|---|---:|---:|---:|---:|"]
    for week in WEEKS:
        if not week.sets:
            continue
        info = assignment_info(week.sets, folder)
        if info is None:
            lines.append(f"| `{week.sets}` | *not yet written* | | | | week {week.number} | week {week.due} |")
            continue
        draft = " (draft)" if info["status"].startswith("draft") else ""
        lines.append(f"| `{info['stem']}`{draft} | {info['part']} | {_chapters_text(info['chapters'])} | "
                     f"{info['questions']} | {info['points']:g} | week {week.number} | week {week.due} |")
    return "\n".join(lines)


def substitutions(chapters_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """MyST substitutions for the *Course plan* page (see the module docstring)."""
    table = runtime_table(chapters_dir)
    subs = {"course_schedule": schedule_markdown(table), "course_assignments": assignments_markdown()}
    for week in WEEKS:
        subs[f"runtime_week_{week.number}"] = week_runtime(week, table)["text"]
        for stem in week.chapters:  # also defined by tools.runtimes for the chapters it plans
            subs[f"exercises_{stem}"] = exercises_markdown(stem, chapters_dir)
    return subs


def _add_substitutions(app, config) -> None:
    """Sphinx ``config-inited`` hook: merge :func:`substitutions` into ``myst_substitutions``."""
    current = dict(getattr(config, "myst_substitutions", None) or {})
    current.update(substitutions(Path(app.srcdir) / "chapters"))
    config.myst_substitutions = current


def setup(app) -> dict:
    """Register the extension with Sphinx (``sphinx.local_extensions`` in ``_config.yml``)."""
    app.connect("config-inited", _add_substitutions, priority=910)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    """Print the term at a glance and the assignments (Markdown)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    print(schedule_markdown())
    print()
    print(assignments_markdown())
    return 0


__all__ = ["WEEKS", "Week", "NOT_TIMED", "REPO", "assignment_info", "assignments_markdown",
           "schedule_markdown", "substitutions", "week_runtime"]

if __name__ == "__main__":
    sys.exit(main())
