"""Sphinx extension: family and benchmark pages generated from the registry's declarations.

Nothing in these pages is written by hand, so they cannot drift from the code
(Gymnasium's hand-written tables did): parameters, training distributions, OOD
levels and example tasks all come from ``TaskFamily.describe()``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import tasksuite
from tasksuite.registry import benchmark_entries, family_entry, load_entry_point

GENERATED = "_generated"


def _table(headers: list[str], rows: list[list[object]]) -> str:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def family_page(name: str, notes: Path) -> str:
    family = tasksuite.get_family(name)
    info = family.describe()
    env_class = load_entry_point(family_entry(name).entry_point)
    parts = [
        f"# {name}",
        f"`{info['env_id']}` · horizon {info['horizon']} steps · version {info['version']}",
        info["summary"],
        *(
            [f"```{{include}} ../../families/{name}.md\n:relative-images:\n:heading-offset: 1\n```"]
            if notes.exists()
            else []
        ),
        "## Environment",
        inspect.cleandoc(env_class.__doc__ or ""),
        "## Training distribution",
        info["training"],
        *(["## Source", info["source"]] if info["source"] else []),
        "## Parameters",
        _table(
            ["name", "allowed", "default", "meaning"],
            [[f"`{p['name']}`", p["allowed"], p["default"], p["doc"]] for p in info["parameters"]],
        ),
        "## Out-of-distribution levels",
        f"Distance from the training support: {info['distance_unit']}. A level's tasks are sampled with "
        "`low <= distance < high`.",
        _table(
            ["level", "distance", "region"],
            [[lv["name"], f"[{lv['low']:g}, {lv['high']:g})", lv["doc"]] for lv in info["ood_levels"]],
        ),
    ]
    for title, (headers, rows) in family.extra_sections().items():
        parts += [f"## {title}", _table(list(headers), [list(r) for r in rows])]
    examples = family.splits(seed=0, n_train=3, n_ood=1, setting="multi-task")
    parts += [
        "## Example tasks (seed 0)",
        "```text\n" + "\n".join(repr(t) for t in examples.train + examples.ood) + "\n```",
    ]
    parts += [
        "## Oracle",
        inspect.getdoc(family.oracle_policy) or "",
        "## Pictures",
        "The end of an oracle episode on a test task and on the farthest task of each OOD level "
        "(`python docs/render_pictures.py` redraws them).",
    ]
    parts += [f"![{name} {split}](../../images/{name}-{split}.png)" for split in picture_splits(name)]
    used = [b.name for b in benchmark_entries() if b.family == name]
    if used:
        parts += ["## Benchmarks", ", ".join(f"`{b}`" for b in used)]
    return "\n\n".join(parts) + "\n"


def picture_splits(name: str) -> list[str]:
    """The splits pictured for family ``name``: the test split and every OOD level."""
    return ["test", *(level.name for level in tasksuite.get_family(name).ood_levels)]


def benchmarks_page() -> str:
    rows = []
    for entry in benchmark_entries():
        test = "= train" if entry.setting == "multi-task" else entry.n_test
        rows.append(
            [
                f"`{entry.name}`",
                f"[{entry.family}](families/{entry.family}.md)",
                entry.setting,
                entry.n_train,
                test,
                entry.n_ood,
                entry.summary,
            ]
        )
    return (
        "\n\n".join(
            [
                "# Benchmarks",
                "Each benchmark fixes a family, a setting and its tasks; seed 0 is the published split manifest "
                "bundled with tasksuite (`tasksuite manifest NAME --out FILE` writes it out).",
                _table(["benchmark", "family", "setting", "train", "test", "OOD per level", "what"], rows),
            ]
        )
        + "\n"
    )


def generate(app) -> None:
    root = Path(app.srcdir) / GENERATED
    (root / "families").mkdir(parents=True, exist_ok=True)
    toc = [
        "# Families",
        "One page per registered family, generated from its declaration.",
        "```{toctree}\n:maxdepth: 1\n",
    ]
    for name in tasksuite.list_families():
        notes = Path(app.srcdir) / "families" / f"{name}.md"
        _write(root / "families" / f"{name}.md", family_page(name, notes))
        toc[-1] += f"families/{name}\n"
    toc[-1] += "```"
    _write(root / "families.md", "\n\n".join(toc) + "\n")
    _write(root / "benchmarks.md", benchmarks_page())


def _write(path: Path, text: str) -> None:
    # Rewriting an unchanged page would make Sphinx rebuild it every time.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def setup(app):
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}
