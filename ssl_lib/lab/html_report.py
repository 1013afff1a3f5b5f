"""The offline HTML report of a reproduction: every executed notebook as a page, and an index.

The pages open complete with no network: plotly figures are drawn by one shared
``plotly.min.js`` next to the pages; maths is rendered to MathML when the page is built
(latex2mathml; browsers draw MathML natively); widgets, which need a live kernel, are replaced by
a note; and the page template (templates/offline) drops what nbconvert's JupyterLab template
fetches from public CDNs (require.js, MathJax, the widget embed script, mermaid).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from ssl_lib.lab.results import RESULTS
from ssl_lib.utils.io import atomic_write_text

_PLOTLY_JSON = "application/vnd.plotly.v1+json"
_WIDGET = "application/vnd.jupyter.widget-view+json"
TEMPLATES = Path(__file__).parent / "templates"
_STYLE = ("body{font-family:sans-serif;max-width:70em;margin:2em auto} "
          "td,th{border-bottom:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left} "
          "pre{white-space:pre-wrap;margin:0}")
# $$display$$ or $inline$ maths outside code spans (a $ escaped as \$ is text).
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)(.+?)(?<![\s\\])\$", re.DOTALL)
_CODE = re.compile(r"(```.*?```|`[^`]*`)", re.DOTALL)


def render_maths(markdown: str) -> str:
    """Markdown with its TeX maths ($...$, $$...$$) replaced by MathML, code spans untouched.
    A formula latex2mathml cannot parse is left as TeX."""
    from latex2mathml.converter import convert

    def to_mathml(match):
        display, inline = match.groups()
        try:
            return convert(display if display is not None else inline,
                           display="block" if display is not None else "inline")
        except Exception:  # noqa: BLE001 -- any parse failure: keep the source readable
            return match.group(0)

    parts = _CODE.split(markdown)
    return "".join(part if i % 2 else _MATH.sub(to_mathml, part) for i, part in enumerate(parts))


def _static_outputs(nb) -> None:
    """Make outputs renderable in static HTML: plotly figures as divs drawn by a shared
    plotly.min.js (the report works offline), widgets as a note instead of their repr."""
    import plotly.io as pio

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if _PLOTLY_JSON in data and "text/html" not in data:
                data["text/html"] = pio.to_html(data[_PLOTLY_JSON], include_plotlyjs=False, full_html=False)
            elif _WIDGET in data:
                data.pop(_WIDGET)
                data["text/plain"] = "[interactive widget: open the notebook in JupyterLab (make lab)]"


def notebook_to_html(executed, html_path) -> Path:
    """Convert an executed notebook to a standalone HTML page next to a shared plotly.min.js."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(executed), as_version=4)
    _static_outputs(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = render_maths(cell.source)
    nb.metadata.pop("widgets", None)  # widget state needs the embed script and a kernel
    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)])
    body, _ = exporter.from_notebook_node(nb)
    body = body.replace("</head>", '<script src="plotly.min.js" charset="utf-8"></script>\n</head>', 1)
    return atomic_write_text(body, html_path)


def _copy_plotly_js(folder: Path) -> None:
    import plotly

    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    target = folder / "plotly.min.js"
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        atomic_write_text(source.read_text(encoding="utf-8"), target)


def _overview(merged: dict) -> str:
    """The index page's top: the bench's validity (from "00_validity") and the forest plot of
    every claim (from "08_report"), each only when recorded."""
    import pandas as pd

    from ssl_lib.lab.verdicts import claims_forest, verdict_summary

    results = merged.get("notebooks", {})
    parts = []
    validity = results.get("00_validity")
    if validity is not None:
        failures = validity.get("failures") or []
        status = ("<p><b>Bench valid</b>: every validity floor is met on every seed.</p>" if not failures else
                  f"<p><b>Bench not valid</b>: {len(failures)} floor(s) missed; read the verdicts with this in "
                  f"mind.</p><ul>{''.join(f'<li>{html.escape(f)}</li>' for f in failures)}</ul>")
        parts.append(f"<h2>Validity</h2>{status}")
    claims = (results.get("08_report") or {}).get("claims")
    if claims:
        table = pd.DataFrame(claims)
        figure = claims_forest(table).to_html(full_html=False, include_plotlyjs=False)
        summary = (results.get("08_report") or {}).get("summary") or {}
        dropped = summary.get("failed_seeds") or []
        seeds = html.escape(", ".join(map(str, dropped)))
        robust = (f"<p>Judged again without the seeds that missed a floor ({seeds}): "
                  f"{summary.get('verdicts_changed_without_failed_seeds', 0)} of {len(table)} verdicts change.</p>"
                  if dropped else "")
        parts.append(f"<h2>Claims</h2><p>{html.escape(verdict_summary(table))} (details: "
                     f'<a href="08_report.html">08_report</a>).</p>{robust}{figure}')
    return "\n".join(parts)


def write_report(output_dir, merged: dict) -> Path:
    """html/<notebook>.html for every executed notebook and html/index.html linking them, with
    the bench's validity and the forest plot of every claim at the top, and each notebook's
    status, time and recorded numbers."""
    output_dir = Path(output_dir)
    folder = output_dir / "html"
    folder.mkdir(parents=True, exist_ok=True)
    _copy_plotly_js(folder)
    run = merged.get("run", {})
    rows = []
    for entry in run.get("notebooks", []):
        name, executed = entry["notebook"], Path(entry["path"])
        link = name
        if executed.is_file():
            notebook_to_html(executed, folder / f"{name}.html")
            link = f'<a href="{html.escape(name)}.html">{html.escape(name)}</a>'
        detail = entry.get("error", "")
        numbers = merged.get("notebooks", {}).get(name)
        results = (f"<details><summary>recorded numbers</summary><pre>{html.escape(json.dumps(numbers, indent=1))}"
                   f"</pre></details>") if numbers else ""
        seconds = f"{entry['seconds']:.0f} s" if "seconds" in entry else ""
        rows.append(f"<tr><td>{link}</td><td>{entry['status']}</td><td>{seconds}</td>"
                    f"<td><pre>{html.escape(detail)}</pre>{results}</td></tr>")
    overview = _overview(merged)
    profile = html.escape(str(run.get("profile")))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>ssl_lib reproduction: {profile}</title>
<script src="plotly.min.js" charset="utf-8"></script>
<style>{_STYLE}</style></head>
<body><h1>Reproduction report: profile <code>{profile}</code></h1>
<p>Started {html.escape(str(run.get('started')))}, {run.get('seconds', 0):.0f} s in all.
Machine-readable numbers: <a href="../{RESULTS}">{RESULTS}</a>.
Parameters: <code>{html.escape(json.dumps(run.get('parameters', {})))}</code></p>
{overview}
<h2>Notebooks</h2>
<table><tr><th>notebook</th><th>status</th><th>time</th><th>details</th></tr>
{''.join(rows)}
</table></body></html>
"""
    return atomic_write_text(page, folder / "index.html")


