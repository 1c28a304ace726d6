"""``voicecli models --available``: the whole catalogue (every model the manifest knows, installed
or on the hub) with its approximate size, the RAM it needs, whether that fits this machine, its
languages, license and tool support. On a terminal a table; piped, tab-separated lines."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from voicecli.cli.common import out_console

if TYPE_CHECKING:
    from voicecli.catalog.resolve import ModelResolver

LANGUAGES_SHOWN = 4
"""More languages than this are shown as the first few and "+N"."""


def _approx(mb: int | None) -> str:
    if mb is None:
        return "-"
    return f"~{mb / 1000:.1f} GB" if mb >= 1000 else f"~{mb} MB"


def _languages(langs: tuple[str, ...]) -> str:
    shown = ",".join(langs[:LANGUAGES_SHOWN])
    return shown + (f" +{len(langs) - LANGUAGES_SHOWN}" if len(langs) > LANGUAGES_SHOWN else "")


def show_catalogue(res: ModelResolver, kind: str | None, json_out: bool) -> None:
    from rich.markup import escape

    from voicecli.catalog.fit import fit, machine_ram_mb
    from voicecli.cli.tables import is_piped, new_table, print_tsv

    ram = machine_ram_mb()
    have = {(m.kind, m.name): m.source for m in res.available()}
    entries = [e for e in res.manifest if kind in (None, e.kind) and (e.hub or (e.kind, e.name) in have)]
    rows = [(e, fit(e, ram), (e.kind, e.name) in have) for e in entries]
    if json_out:
        print(json.dumps({"machine_ram_mb": ram, "models": [
            {"kind": e.kind, "name": e.name, "installed": installed, "source": have.get((e.kind, e.name)),
             "hub": e.hub, "hub_file": e.hub_file, "size_mb_approx": e.size_mb, "ram_need_mb_approx": f.need_mb,
             "fits": f.verdict, "languages": list(e.languages), "license": e.license, "tools": e.tools,
             "sha256_pinned": e.sha256} for e, f, installed in rows]}, indent=2, ensure_ascii=False))
        return
    if is_piped(out_console):
        print_tsv(["kind", "name", "status", "size", "ram", "fits", "languages", "license", "tools", "hub"],
                  [[e.kind, e.name, "installed" if installed else "hub", _approx(e.size_mb), _approx(f.need_mb),
                    f.verdict, ",".join(e.languages), e.license or "", "yes" if e.tools else "", e.hub or ""]
                   for e, f, installed in rows])
        print(f"# machine RAM {_approx(ram)}; sizes and RAM needs are approximate")
        return
    table = new_table("kind", "name", "status", "size", "RAM", "fits", "languages", "license", "tools",
                      title="model catalogue (sizes approximate)")
    marks = {"yes": "[green]yes[/]", "tight": "[yellow]tight[/]", "no": "[red]no[/]", "?": "?"}
    for e, f, installed in rows:
        table.add_row(e.kind, escape(e.name), "[green]installed[/]" if installed else "hub", _approx(e.size_mb),
                      _approx(f.need_mb), marks[f.verdict], escape(_languages(e.languages)),
                      escape(e.license or "-"), "yes" if e.tools else "")
    out_console.print(table)
    out_console.print(f"[dim]This machine has {_approx(ram)} of RAM; \"fits\" leaves room for the other models. "
                      "Fetch one with: voicecli models pull NAME[/]")
