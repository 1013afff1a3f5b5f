"""The offline HTML report: maths as MathML, plotly from a local file, nothing from a CDN."""

import re

import nbformat
import plotly.graph_objects as go
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from ssl_lib.lab.html_report import notebook_to_html, render_maths

# Anything a page would fetch: a script, stylesheet, image or module import from http(s).
FETCHED = re.compile(r"""(?:src|href)\s*=\s*["']https?://|import\(\s*["']https?://|@import\s+url\(\s*["']?https?://""")


def executed_notebook(path):
    """A small executed notebook: maths in markdown, a plotly figure, a widget, widget state."""
    nb = new_notebook()
    nb.cells = [new_markdown_cell("# Title\n\nViews $v_1 = t_1(x)$, a loss $$\\mathcal{L} = -\\log p$$ and `code $x$`."),
                new_code_cell("fig", outputs=[new_output("display_data", data={
                    "application/vnd.plotly.v1+json": go.Figure(go.Bar(y=[1, 2])).to_plotly_json()})]),
                new_code_cell("widget", outputs=[new_output("display_data", data={
                    "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                                 "version_minor": 0},
                    "text/plain": "VBox()"})])]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                            "version_minor": 0}}
    nbformat.write(nb, str(path))
    return path


def test_render_maths_converts_tex_outside_code():
    out = render_maths("a $x^2$ b $$\\frac{1}{2}$$ c `$kept$` d \\$5")
    assert out.count("<math") == 2 and 'display="block"' in out
    assert "`$kept$`" in out and "\\$5" in out and "$x^2$" not in out


def test_page_fetches_nothing_from_the_network(tmp_path):
    page = notebook_to_html(executed_notebook(tmp_path / "nb.ipynb"), tmp_path / "nb.html").read_text()
    assert not FETCHED.findall(page), FETCHED.findall(page)
    assert not re.search(r"mathjax|require\.js|unpkg|cdnjs", page, re.IGNORECASE)
    assert page.count("<math") == 2 and '<script src="plotly.min.js"' in page
    assert "interactive widget" in page and "Plotly.newPlot" in page


def test_the_index_shows_validity_and_every_claim_first(tmp_path):
    from ssl_lib.lab.html_report import write_report
    from ssl_lib.lab.verdicts import claim_row, claims_table, compare

    claims = claims_table([claim_row("AugSelf", "helps colour", "colour top-1", "a", "b",
                                     compare([0.8, 0.9, 0.85], [0.7, 0.8, 0.8])),
                           claim_row("CASSLE", "keeps colour", "colour top-1", "a", "b",
                                     compare([0.8, 0.7, 0.95], [0.7, 0.8, 0.8], headroom=[0.01] * 3))])
    merged = {"run": {"profile": "smoke", "notebooks": []},
              "notebooks": {"00_validity": {"failures": ["seed 0: colour headroom of SimCLR is +0.01 (floor 0.1)"]},
                            "08_report": {"claims": claims.assign(notebook="04_augself").to_dict("records"),
                                          "summary": {"failed_seeds": [0, 5],
                                                      "verdicts_changed_without_failed_seeds": 1}}}}
    page = write_report(tmp_path, merged).read_text()
    assert "without the seeds that missed a floor (0, 5): 1 of 2 verdicts change" in page
    assert "Bench not valid" in page and "colour headroom of SimCLR is +0.01" in page
    assert "2 claims: 1 reproduced, 1 cannot show here" in page
    assert page.index("Claims") < page.index("Notebooks") and "Plotly.newPlot" in page
    assert '<script src="plotly.min.js"' in page and not FETCHED.findall(page)
    del merged["notebooks"]["08_report"]["summary"]  # a report recorded before the re-judgement: no such line
    assert "missed a floor (" not in write_report(tmp_path, merged).read_text()
    valid = write_report(tmp_path, {"run": {}, "notebooks": {"00_validity": {"failures": []}}}).read_text()
    assert "Bench valid" in valid and "Claims" not in valid
