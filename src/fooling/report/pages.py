"""`write_pages`: the pages of any result (gallery.html, plots) into its run directory.

Searches and experiments write their runs' data and sit below this layer, so they
take a `pages` writer from whoever calls them: the commands, and the `fooling.evolve`,
`fooling.retrain`, ... of the Python API, pass this one.
"""

from __future__ import annotations

from pathlib import Path

from fooling.errors import FoolingError
from fooling.experiments.ablate import AblationResult
from fooling.experiments.retrain import RetrainResult
from fooling.experiments.transfer import TransferResult
from fooling.search.result import SearchResult


def write_pages(result: object, out: str | Path) -> Path:
    """Write the pages of `result` into its run directory `out`.

    Args:
        result: a `SearchResult` (evolve, ascend), `RetrainResult`, `TransferResult`
            or `AblationResult`, whose run's data is (or is being) written in `out`.
        out: the run directory.

    Returns:
        The main page: `out/gallery.html`.

    Raises:
        FoolingError: `result` is none of those.
    """
    out = Path(out)
    # Each page module loads matplotlib, so each is imported only when its page is written.
    if isinstance(result, SearchResult):
        from fooling.report.search_report import write_report

        return write_report(result, out)
    if isinstance(result, RetrainResult):
        from fooling.report.retrain_report import write_retrain_report

        return write_retrain_report(result, out)
    if isinstance(result, TransferResult):
        from fooling.report.transfer_report import write_transfer_report

        return write_transfer_report(result, out)
    if isinstance(result, AblationResult):
        from fooling.report.ablation_report import write_ablation_report

        return write_ablation_report(result, out)
    raise FoolingError(f"fooling has no pages for a {type(result).__name__}")
