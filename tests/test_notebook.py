"""notebooks/investigate.ipynb, executed top to bottom by a real Jupyter kernel.

The sample incident is preserved through the CLI, then the notebook runs in an ipykernel
started from a kernelspec written here that points at this interpreter (``sys.executable``),
so the kernel sees the same installed packages as the test whatever kernelspecs the machine
has. With ``CI`` set, a kernel that cannot start fails the test; elsewhere it is skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.conftest import ROOT, service_unavailable

NOTEBOOK = ROOT / "notebooks" / "investigate.ipynb"
PREFIX_MARK = "KERNEL_SYS_PREFIX="


def write_kernelspec(root: Path) -> Path:
    """A ``python3`` kernelspec under ``root/kernels`` that runs this very interpreter."""
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (incident-forensics tests)",
                "language": "python",
                "metadata": {"debugger": False},
            }
        )
    )
    return root


def output_text(output: nbformat.NotebookNode) -> str:
    if output.output_type == "stream":
        return str(output.text)
    if output.output_type in ("display_data", "execute_result"):
        data = output.get("data", {})
        return "\n".join(
            str(data[kind]) for kind in ("text/plain", "text/html", "text/markdown") if kind in data
        )
    if output.output_type == "error":
        return f"{output.ename}: {output.evalue}"
    return ""


def test_notebook_runs_on_the_sample_bundle(
    sample_bundle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = NOTEBOOK.read_text(encoding="utf-8")
    notebook = nbformat.reads(original, as_version=4)
    nbformat.validate(notebook)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code_cells), (
        "store the notebook without outputs"
    )
    assert "FORENSICS_BUNDLE" in code_cells[0].source
    # One extra cell, in memory only: which interpreter the kernel runs.
    notebook.cells.append(
        nbformat.v4.new_code_cell(f"import sys\n\nprint({PREFIX_MARK!r} + sys.prefix)")
    )

    # The kernel inherits this environment; the kernelspec dir comes first on JUPYTER_PATH.
    monkeypatch.setenv("JUPYTER_PATH", str(write_kernelspec(tmp_path / "jupyter")))
    monkeypatch.setenv("FORENSICS_BUNDLE", sample_bundle)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws PNGs
    workdir = tmp_path / "work"
    workdir.mkdir()

    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        startup_timeout=120,
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        client.km = client.create_kernel_manager()
        client.start_new_kernel()
        client.start_new_kernel_client()
    except Exception as exc:
        if client.km is not None and client.km.has_kernel:
            client._cleanup_kernel()
        service_unavailable(f"the python3 Jupyter kernel did not start: {exc!r}")
    try:
        client.execute()  # reuses the started kernel and shuts it down at the end
    except CellExecutionError as exc:
        pytest.fail(f"a notebook cell failed:\n{exc}", pytrace=False)

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    errors = [output_text(o) for o in outputs if o.output_type == "error"]
    assert not errors, errors
    text = "\n".join(output_text(o) for o in outputs)
    assert f"{PREFIX_MARK}{sys.prefix}" in text, "the kernel runs another interpreter"
    assert "data/logs/checkout.jsonl.gz:3711" in text
    assert "deploy-checkout-8841" in text
    assert "Bundle</b> INC-42" in text  # the bundle's HTML summary was displayed
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 1
    # Running it changed nothing on disk: the stored notebook stays clean.
    assert NOTEBOOK.read_text(encoding="utf-8") == original
