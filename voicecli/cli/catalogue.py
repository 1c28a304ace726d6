"""``voicecli models --available``: the whole catalogue (every model the manifest knows, installed
or on the hub) with its approximate size, the RAM it needs, whether that fits this machine, its
languages, license and tool support. On a terminal a table; piped, tab-separated lines."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from voicecli.cli.common import out_console

if TYPE_CHECKING:
    from voicecli.catalog.probe import Probe
    from voicecli.catalog.resolve import ManifestEntry, ModelResolver

LANGUAGES_SHOWN = 3
"""More languages than this are shown as the first few, "…" and how many (``en,zh,fr,… (13)``)."""
RAM_COLUMN_MIN_COLUMNS = 100
"""Narrower terminals get the table without the RAM column (``--json`` and piped output have it)."""


def _approx(mb: int | None) -> str:
    if mb is None:
        return "-"
    return f"~{mb / 1000:.1f} GB" if mb >= 1000 else f"~{mb} MB"


def _languages(langs: tuple[str, ...]) -> str:
    if len(langs) <= LANGUAGES_SHOWN:
        return ",".join(langs)
    return ",".join(langs[:LANGUAGES_SHOWN]) + f",… ({len(langs)})"


def show_catalogue(res: ModelResolver, kind: str | None, json_out: bool, speed: Probe | None = None) -> None:
    from rich.markup import escape

    from voicecli.catalog.fit import fit, machine_ram_mb
    from voicecli.cli.tables import is_piped, new_table, print_tsv

    ram = machine_ram_mb()
    have = {(m.kind, m.name): m.source for m in res.available()}
    entries = [e for e in res.manifest if kind in (None, e.kind) and (e.hub or (e.kind, e.name) in have)]
    order = ("stt", "llm", "tts", "vad")
    entries.sort(key=lambda e: order.index(e.kind) if e.kind in order else len(order))  # stable: manifest order within
    rows = [(e, fit(e, ram), (e.kind, e.name) in have) for e in entries]
    if json_out:
        print(json.dumps({"machine_ram_mb": ram, "models": [
            {"kind": e.kind, "name": e.name, "installed": installed, "source": have.get((e.kind, e.name)),
             "hub": e.hub, "hub_file": e.hub_file, "size_mb_approx": e.size_mb, "ram_need_mb_approx": f.need_mb,
             "fits": f.verdict, "languages": list(e.languages), "license": e.license, "tools": e.tools,
             "sha256_pinned": e.sha256, "tokens_per_s_estimate": _rate(speed, e)} for e, f, installed in rows],
            "probe": None if speed is None else {"model": speed.model, "tokens_per_s": _sig(speed.tokens_per_s)}},
            indent=2, ensure_ascii=False))
        return
    if is_piped(out_console):
        print_tsv(["kind", "name", "status", "size", "ram", "fits", "languages", "license", "tools", "hub",
                   *(["tok/s"] if speed else [])],
                  [[e.kind, e.name, "installed" if installed else "hub", _approx(e.size_mb), _approx(f.need_mb),
                    f.verdict, ",".join(e.languages), e.license or "", "yes" if e.tools else "", e.hub or "",
                    *([_rate_text(speed, e)] if speed else [])] for e, f, installed in rows])
        print(f"# machine RAM {_approx(ram)}; sizes and RAM needs are approximate")
        return
    with_ram = out_console.width >= RAM_COLUMN_MIN_COLUMNS
    table = new_table("name", "kind", "have", "size", *(["RAM"] if with_ram else []), "fits",
                      *(["tok/s"] if speed else []), "tools", "license", "languages",
                      title="model catalogue (sizes approximate)")
    table.columns[0].min_width = max((len(e.name) for e, _, _ in rows), default=4)  # the name is what one types
    for col in table.columns[:-2]:
        col.no_wrap = True
    marks = {"yes": "[green]yes[/]", "tight": "[yellow]tight[/]", "no": "[red]no[/]", "?": "?"}
    for e, f, installed in rows:
        table.add_row(escape(e.name), e.kind, "[green]yes[/]" if installed else "", _approx(e.size_mb),
                      *([_approx(f.need_mb)] if with_ram else []), marks[f.verdict],
                      *([_rate_text(speed, e)] if speed else []), "yes" if e.tools else "",
                      escape(e.license or "-"), escape(_languages(e.languages)))
    out_console.print(table)
    if speed:
        out_console.print(f"[dim]tok/s: estimated from {escape(speed.model)} decoding at {speed.tokens_per_s:.0f} "
                          "tokens/s here, scaled by size (rough)[/]")
    out_console.print(f"[dim]This machine has {_approx(ram)} of RAM; \"fits\" leaves room for the other models. "
                      "Fetch one with: voicecli models pull NAME[/]")


def _rate(speed: Probe | None, e: ManifestEntry) -> float | None:
    rate = speed.estimate(e) if speed else None
    return None if rate is None else _sig(rate)


def _sig(x: float) -> float:
    """Three significant figures (a 3B model on a busy machine is well under 0.1 tokens/s)."""
    return float(f"{x:.3g}")


def _rate_text(speed: Probe | None, e: ManifestEntry) -> str:
    rate = _rate(speed, e)
    return "" if rate is None else f"~{rate:.0f}" if rate >= 10 else f"~{rate:.2g}"
