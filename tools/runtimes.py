"""How long each chapter takes to run, read from the notebooks themselves (never typed by hand).

Explained in the teachers' page *Course plan* (``chapters/course_plan.md``), whose runtime figures
come from here. When ``python -m tools.notebooks run`` executes a chapter, nbclient records in
every code cell's ``metadata.execution`` when the kernel started and finished it
(``iopub.status.busy`` / ``iopub.status.idle``); a chapter's runtime is the sum over its cells.

Command line::

    python -m tools.runtimes            # a Markdown table of every chapter in the toc

As a Sphinx extension (``sphinx.local_extensions`` in ``_config.yml``) it adds MyST substitutions,
so pages can write ``{{ runtime_06_cnn }}`` (one chapter) or ``{{ runtime_table }}`` (all chapters)
and always show the runtimes of the outputs that are actually stored.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from helpers.errors import DataError

REPO = Path(__file__).resolve().parent.parent

#: Text shown for a chapter that is planned in the toc but has no notebook yet, or no timings.
NOT_IN_BOOK = "not yet in the book"
NOT_TIMED = "not yet executed"


def _timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def notebook_runtime(path: str | os.PathLike) -> dict:
    """Read one notebook's execution timings.

    Explained in the page *Course plan*.

    Parameters
    ----------
    path : path
        A notebook executed by nbclient (``python -m tools.notebooks run``).

    Returns
    -------
    dict
        ``notebook`` (file name), ``title`` (first ``#`` heading), ``code_cells``, ``timed_cells``,
        ``seconds`` (sum of per-cell busy→idle times; NaN when no cell is timed),
        ``wall_seconds`` (first cell start to last cell end), ``executed`` (UTC date, or "") and
        ``caches`` (``"cold"`` or ``"warm"`` as the chapter runner recorded it, or "").

    Raises
    ------
    DataError
        If the file is missing, is not JSON, or is not a notebook, or a timestamp is malformed.
    """
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DataError(f"notebook {path} does not exist") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not a readable notebook (invalid JSON: {err})") from err
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise DataError(f"{path} is not a notebook: it has no 'cells' list")
    title = ""
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "markdown":
            match = re.search(r"^#\s+(.+)$", "".join(cell.get("source", "")), re.M)
            if match:
                title = match.group(1).strip()
                break
    code = [c for c in notebook["cells"] if c.get("cell_type") == "code"]
    durations, starts, ends = [], [], []
    for cell in code:
        timing = cell.get("metadata", {}).get("execution", {})
        busy, idle = timing.get("iopub.status.busy"), timing.get("iopub.status.idle")
        if not (busy and idle):
            continue
        try:
            start, end = _timestamp(busy), _timestamp(idle)
        except ValueError as err:
            raise DataError(f"{path}: malformed execution timestamp in cell metadata ({err})") from err
        durations.append((end - start).total_seconds())
        starts.append(start)
        ends.append(end)
    return {
        "notebook": path.name,
        "title": title,
        "code_cells": len(code),
        "timed_cells": len(durations),
        "seconds": float(sum(durations)) if durations else math.nan,
        "wall_seconds": (max(ends) - min(starts)).total_seconds() if durations else math.nan,
        "executed": min(starts).strftime("%Y-%m-%d") if starts else "",
        "caches": str(notebook.get("metadata", {}).get("book_run", {}).get("caches", "")),
    }


#: The chapters of the book's design (BOOK.md), which the *Course plan* page refers to.
BOOK_CHAPTERS = (
    "00_getting_started", "01_spotify_baseline", "02_sound_and_sampling", "03_spectrograms_and_mfccs",
    "04_gtzan", "05_features", "06_cnn", "07_lstm", "08_evaluation", "09_beyond",
    "10_transfer_learning", "11_scaling_out",
)


#: Runtime budgets on mini data, 2-core CPU, in seconds (BOOK.md): chapter 1 ≤ 4 min, chapter 8 ≤ 10 min,
#: chapter 9 ≤ 6 min, chapters 10 and 11 ≤ 5 min, every other chapter ≤ :data:`DEFAULT_BUDGET_SECONDS`.
#: Heavier studies are make targets whose recorded results a chapter renders (chapter 6's sweep:
#: ``make sweep``; chapter 8's confirmation run: ``make confirm``).
#: ``tests/test_runtimes.py`` holds the committed, re-executed chapters to them.
BUDGET_SECONDS = {"01_spotify_baseline": 240, "08_evaluation": 600, "09_beyond": 360,
                  "10_transfer_learning": 300, "11_scaling_out": 300}
DEFAULT_BUDGET_SECONDS = 180


def budget_seconds(stem: str) -> int:
    """A chapter's runtime budget in seconds (:data:`BUDGET_SECONDS`, else :data:`DEFAULT_BUDGET_SECONDS`)."""
    return BUDGET_SECONDS.get(stem, DEFAULT_BUDGET_SECONDS)


def planned_chapters(toc_path: str | os.PathLike | None = None) -> list[str]:
    """Chapter stems the toc names (commented-out, planned lines included), then :data:`BOOK_CHAPTERS`.

    Explained in the page *Course plan*: planned chapters get a "not yet in the book" runtime
    until their notebook lands, so the page never breaks while the book grows or a line of the
    toc is removed.
    """
    toc_path = Path(toc_path) if toc_path is not None else REPO / "_toc.yml"
    stems = re.findall(r"file:\s*chapters/([0-9]{2}_[A-Za-z0-9_]+)", toc_path.read_text())
    return sorted(dict.fromkeys([*stems, *BOOK_CHAPTERS]), key=lambda stem: (stem[:2], stem))


def format_seconds(seconds: float) -> str:
    """``75.2`` → ``"1 min 15 s"``; NaN → :data:`NOT_TIMED`."""
    if seconds is None or not math.isfinite(seconds):
        return NOT_TIMED
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def runtime_table(chapters_dir: str | os.PathLike | None = None,
                  stems: list[str] | None = None) -> pd.DataFrame:
    """One row per planned chapter with its measured runtime (see :func:`notebook_runtime`).

    Explained in the page *Course plan*.

    Parameters
    ----------
    chapters_dir : path, optional
        Folder of the chapter notebooks (default: ``chapters/``).
    stems : list of str, optional
        Chapter stems in order (default: :func:`planned_chapters`).

    Returns
    -------
    pandas.DataFrame
        Columns ``chapter`` (stem), ``title``, ``code_cells``, ``seconds``, ``runtime`` (text),
        ``executed``; a planned chapter without a notebook has ``runtime`` = :data:`NOT_IN_BOOK`.
    """
    chapters_dir = Path(chapters_dir) if chapters_dir is not None else REPO / "chapters"
    stems = planned_chapters() if stems is None else stems
    rows = []
    for stem in stems:
        path = chapters_dir / f"{stem}.ipynb"
        if not path.is_file():
            rows.append({"chapter": stem, "title": "", "code_cells": 0, "seconds": math.nan,
                         "runtime": NOT_IN_BOOK, "executed": ""})
            continue
        info = notebook_runtime(path)
        complete = info["timed_cells"] == info["code_cells"] and info["code_cells"] > 0
        runtime = format_seconds(info["seconds"]) if complete else NOT_TIMED
        rows.append({"chapter": stem, "title": info["title"], "code_cells": info["code_cells"],
                     "seconds": info["seconds"] if complete else math.nan, "runtime": runtime,
                     "executed": info["executed"]})
    return pd.DataFrame(rows, columns=["chapter", "title", "code_cells", "seconds", "runtime", "executed"])


def markdown_table(table: pd.DataFrame) -> str:
    """Render :func:`runtime_table` as a Markdown table with each chapter's budget and a total row."""
    lines = ["| Chapter | Code cells | Runtime, 2-core CPU | Budget | Executed (UTC) |", "|---|---:|---:|---:|---|"]
    for row in table.itertuples(index=False):
        name = row.title or row.chapter
        budget = format_seconds(budget_seconds(row.chapter))
        lines.append(f"| {name} | {row.code_cells or ''} | {row.runtime} | {budget} | {row.executed} |")
    timed = table["seconds"].dropna()
    total = format_seconds(float(timed.sum())) if len(timed) else NOT_TIMED
    lines.append(f"| **All {len(timed)} executed chapters** | | **{total}** | | |")
    return "\n".join(lines)


#: The paragraph of a chapter's first cell that states its runtime; rewritten by :func:`stamp_runtime`.
RUNTIME_LINE = re.compile(r"^\*\*Runtime\*\*:.*?(?=\n\s*\n|\Z)", re.M | re.S)


def runtime_sentence(info: dict) -> str:
    """The **Runtime** paragraph for a chapter whose timings :func:`notebook_runtime` read.

    Explained in the page *Course plan*: the number is the sum of the stored cells' execution
    times, so it is never typed by hand and cannot go stale.
    """
    complete = info["timed_cells"] == info["code_cells"] and info["code_cells"] > 0
    if not complete:
        return f"**Runtime**: {NOT_TIMED} (re-execute with `python -m tools.notebooks run`)."
    caches = {"cold": ", feature caches empty at the start", "warm": ", feature caches already filled"}
    return (f"**Runtime**: {format_seconds(info['seconds'])} of cell execution when these outputs were "
            f"stored ({info['executed']}, mini GTZAN, a 2-core CPU{caches.get(info.get('caches'), '')}, "
            "`python -m tools.notebooks run`); Colab GPU: not measured.")


def stamp_runtime(path: str | os.PathLike) -> str:
    """Rewrite the **Runtime** paragraph of a notebook's first markdown cell from its timings.

    Explained in the page *Course plan*. Called by ``python -m tools.notebooks run`` after each
    chapter; the paragraph is appended to the first markdown cell when it has none.

    Returns
    -------
    str
        The paragraph written.
    """
    path = Path(path)
    sentence = runtime_sentence(notebook_runtime(path))
    notebook = json.loads(path.read_text(encoding="utf-8"))
    first = next(c for c in notebook["cells"] if c.get("cell_type") == "markdown")
    source = "".join(first["source"])
    if RUNTIME_LINE.search(source):
        source = RUNTIME_LINE.sub(lambda _: sentence, source, count=1)
    else:
        source = source.rstrip("\n") + "\n\n" + sentence
    first["source"] = source.splitlines(keepends=True)
    path.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return sentence


def stated_runtime(path: str | os.PathLike) -> str | None:
    """The **Runtime** paragraph a notebook states now (``None`` if it has none)."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    first = next((c for c in notebook["cells"] if c.get("cell_type") == "markdown"), None)
    match = RUNTIME_LINE.search("".join(first["source"])) if first else None
    return match.group(0) if match else None


_EXERCISES = re.compile(r"^#{1,4}\s+Exercises\b", re.M)
_ITEM = re.compile(r"^\*\*(?:Exercise\s+)?(\d+)[.)]?\*\*[.:]?\s+(.+?)(?=\n\s*\n|\n:::|\Z)", re.M | re.S)
_NEXT_SECTION = re.compile(r"^#{1,2}\s+(?!Exercises)", re.M)


def exercise_list(path: str | os.PathLike) -> list[tuple[int, str]]:
    """The exercises of a chapter: ``(number, question)`` from its "Exercises" section.

    Explained in the page *Course plan* (which exercises to assign). Items are written as
    ``**N.** question`` (CONTRIBUTING.md); the question is cut after its first two sentences.

    Raises
    ------
    DataError
        If the notebook cannot be read (see :func:`notebook_runtime`).
    """
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read notebook {path}: {err}") from err
    text, inside = [], False
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell.get("source", ""))
        if not inside:
            found = _EXERCISES.search(source)
            if not found:
                continue
            inside, source = True, source[found.end():]
        stop = _NEXT_SECTION.search(source)
        if stop:
            text.append(source[: stop.start()])
            break
        text.append(source)
    items = []
    for match in _ITEM.finditer("\n\n".join(text)):
        question = " ".join(match.group(2).split())
        sentences = re.split(r"(?<=[.?!])\s+", question)
        short = " ".join(sentences[:2])
        items.append((int(match.group(1)), short if len(short) <= 220 else short[:217].rstrip() + "…"))
    return items


def exercises_markdown(stem: str, chapters_dir: str | os.PathLike | None = None) -> str:
    """A Markdown list of a chapter's exercises (or a note that the chapter has not landed yet)."""
    chapters_dir = Path(chapters_dir) if chapters_dir is not None else REPO / "chapters"
    path = chapters_dir / f"{stem}.ipynb"
    if not path.is_file():
        return f"*(chapter {stem[:2]} is {NOT_IN_BOOK})*"
    items = exercise_list(path)
    if not items:
        return f"*(chapter {stem[:2]} has no Exercises section yet)*"
    return "\n".join(f"{number}. {question}" for number, question in items)


#: The record ``python -m tools.rehearsal run`` writes (chapters run on a generated full-size GTZAN tree).
REHEARSAL_CSV = REPO / "results" / "rehearsal" / "full.csv"


def rehearsal_markdown(path: str | os.PathLike | None = None) -> str:
    """The full-scale rehearsal record as a Markdown table, or a line saying it is not recorded yet.

    Explained in the page *Course plan*: runtime and peak memory per chapter with
    ``GTZAN_FLAVOUR=full`` on a generated GTZAN-layout tree (``make rehearsal``; ``make
    rehearsal-quick`` records a small tree, labelled by its clips per genre).
    """
    path = Path(path) if path is not None else REHEARSAL_CSV
    if not path.is_file():
        return "*(no rehearsal recorded yet: `make rehearsal`)*"
    table = pd.read_csv(path)
    lines = ["| Chapter | Clips (per genre) | Runtime | Peak memory | Status | Executed (UTC) |",
             "|---|---:|---:|---:|---|---|"]
    for row in table.itertuples(index=False):
        lines.append(f"| {row.chapter} | {row.clips} ({row.per_genre}) | {format_seconds(row.seconds)} "
                     f"| {row.peak_rss_mb:,.0f} MB | {row.status} | {row.executed_utc} |")
    machines = ", ".join(sorted(set(table["machine"].dropna().astype(str))))
    sources = "; ".join(sorted(set(table["notes"].dropna().astype(str))))
    lines.append("")
    lines.append(f"*Measured on: {machines or 'an unrecorded machine'}. Clips: {sources or 'not recorded'}. "
                 "Runtime is the sum of the chapter's cell execution times; peak memory is that of the "
                 "chapter's kernel and the processes it started.*")
    full = table[table["per_genre"] >= 100]
    if full.empty:
        lines.append("")
        lines.append("*The 1000-clip run (`make rehearsal`: hours on a 2-core CPU, about 1.3 GB of disk "
                     "under the data folder, removed afterwards) is not yet recorded; the rows above come "
                     "from the quick variant (`make rehearsal-quick`).*")
    else:
        missing = [stem for stem in planned_chapters() if stem not in set(full["chapter"])]
        lines.append("")
        if missing:
            lines.append(f"*Not yet run on the 1000-clip tree: {', '.join(missing)}.*")
        else:
            failed = full.loc[full["status"] != "ok", "chapter"].tolist()
            heaviest = full.loc[full["peak_rss_mb"].idxmax()]
            lines.append(
                f"*Every chapter on the 1000-clip tree: {format_seconds(full['seconds'].sum())} of cells in all "
                f"(one chapter after another, each in a fresh kernel); the largest peak memory is "
                f"{heaviest.peak_rss_mb:,.0f} MB ({heaviest.chapter}); "
                + (f"not ok: {', '.join(failed)}.*" if failed else "every chapter ok.*"))
    return "\n".join(lines)


def substitutions(chapters_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """MyST substitutions for the *Course plan* page.

    ``runtime_<stem>`` and ``exercises_<stem>`` per planned chapter, ``runtime_total`` and
    ``runtime_table``.
    """
    table = runtime_table(chapters_dir)
    subs = {f"runtime_{row.chapter}": row.runtime for row in table.itertuples(index=False)}
    subs.update({f"exercises_{stem}": exercises_markdown(stem, chapters_dir) for stem in table["chapter"]})
    timed = table["seconds"].dropna()
    subs["runtime_total"] = format_seconds(float(timed.sum())) if len(timed) else NOT_TIMED
    subs["runtime_table"] = markdown_table(table)
    subs["rehearsal_table"] = rehearsal_markdown()
    return subs


def _add_substitutions(app, config) -> None:
    """Sphinx ``config-inited`` hook: merge :func:`substitutions` into ``myst_substitutions``."""
    current = dict(getattr(config, "myst_substitutions", None) or {})
    current.update(substitutions(Path(app.srcdir) / "chapters"))
    config.myst_substitutions = current


def setup(app) -> dict:
    """Register the extension with Sphinx (``sphinx.local_extensions`` in ``_config.yml``)."""
    app.connect("config-inited", _add_substitutions, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    """Print the runtime table of every planned chapter (Markdown)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    try:
        print(markdown_table(runtime_table(argv[0] if argv else None)))
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
