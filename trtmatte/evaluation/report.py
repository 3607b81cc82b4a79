"""The evaluation report as a fixed-width table (what `trtmatte eval` prints)."""
from __future__ import annotations


def _cell(value: float | None, width: int, digits: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def format_table(report: dict, name_width: int = 28) -> list[str]:
    """The report as fixed-width lines: one per image and the mean (SAD, Grad, Conn in thousands)."""
    rows = report["images"]
    width = min(max([len(r["name"]) for r in rows] + [len("mean"), len("image")]), name_width)
    region = report["settings"]["region"]
    label = "trimap" if region == "trimap" else f"band {report['settings']['band_px']}"
    group = f"{('-- ' + label + ' ').ljust(43, '-')}  {'-- full image '.ljust(43, '-')}"
    head = (f"{'image':<{width}} {'size':>9} {'px':>8}  {'SAD':>10} {'MSE':>10} {'Grad':>10} {'Conn':>10}  "
            f"{'SAD':>10} {'MSE':>10} {'Grad':>10} {'Conn':>10}")

    def line(name: str, size: str, px: str, metrics: dict) -> str:
        name = name if len(name) <= width else name[:width - 1] + "~"
        cells = []
        for key in ("region", "full"):
            m = metrics[key]
            cells.append(" ".join((_cell(m["sad"], 10, 4), _cell(m["mse"], 10, 6), _cell(m["grad"], 10, 4),
                                   _cell(m["conn"], 10, 4))))
        return f"{name:<{width}} {size:>9} {px:>8}  {cells[0]}  {cells[1]}"

    out = [" " * (width + 21) + group, head]
    for r in rows:
        out.append(line(r["name"], f"{r['width']}x{r['height']}", str(r["region_pixels"]), r))
    out.append("-" * len(head))
    out.append(line("mean", f"{len(rows)} img", "", report["mean"]))
    return out
