"""A fiche table (Tableau) as one "Header : value ; Header : value" line per row, merged cells spread.

Cells merge across columns (fusionHorizontale) and down rows (fusionVerticale), and a table may stack
header rows, the lower ones naming the columns under a merged header ("Durée en début de carrière" over
"Né entre janvier et septembre" and "Né entre octobre et décembre"). Read cell after cell, one merged
cell shifts every cell after it onto the wrong column: "Année de naissance : 60 ans ; Âge de départ :
167". So each cell is first placed on the columns it covers; a cell merged down holds for each row it
covers (both lines of "1959" are for 1959), and a column is named by all its header rows.
"""

from __future__ import annotations

Cell = tuple[str, int, int]  # text, columns spanned, rows spanned
Placed = tuple[int, str, int]  # first column, text, columns spanned
_LEVELS = " – "  # between a merged header and the header of one of its columns


def table_rows(rows: list[list[Cell]], header_rows: int) -> list[str]:
    """The lines of a table whose first header_rows rows name its columns."""
    # A header cell merged down past the header rows (it happens) covers no data row.
    grid = _place(rows[:header_rows]) + _place(rows[header_rows:])
    levels = _column_levels(grid[:header_rows])
    lines = [_row_line(levels, placed) for placed in grid[header_rows:]]
    lines = [line for line in lines if line]
    if not lines and levels:  # a table of headers only still says what it is about
        return [" ; ".join(dict.fromkeys(_LEVELS.join(level) for level in levels if level))]
    return lines


def _place(rows: list[list[Cell]]) -> list[list[Placed]]:
    """Each row's cells on the columns they cover, with the cells merged down from the rows above."""
    above: dict[int, tuple[str, int, int]] = {}  # column -> text, columns spanned, rows still covered
    grid: list[list[Placed]] = []
    for cells in rows:
        placed: list[Placed] = []
        pending = [(text, max(span, 1), max(down, 1)) for text, span, down in cells]
        column = 0
        while pending or any(c >= column for c in above):
            if column in above:
                text, span, down = above.pop(column)
            elif pending:
                text, span, down = pending.pop(0)
            else:
                column += 1
                continue
            _overlapped(above, column + 1, column + span)
            if down > 1:
                above[column] = (text, span, down - 1)
            placed.append((column, text, span))
            column += span
        grid.append(placed)
    return grid


def _overlapped(above: dict[int, tuple[str, int, int]], start: int, end: int) -> None:
    """A malformed table: a cell over columns that a cell merged down still holds in this row. That row
    counts as covered, so the merged cell cannot drift into a later one."""
    for column in [c for c in above if start <= c < end]:
        text, span, down = above.pop(column)
        if down > 1:
            above[column] = (text, span, down - 1)


def _column_levels(header_grid: list[list[Placed]]) -> list[tuple[str, ...]]:
    """Per column, the distinct texts of its header rows, top first."""
    width = max((column + span for row in header_grid for column, _, span in row), default=0)
    levels: list[list[str]] = [[] for _ in range(width)]
    for row in header_grid:
        for column, text, span in row:
            for covered in levels[column : column + span]:
                if text and text not in covered:
                    covered.append(text)
    return [tuple(level) for level in levels]


def _row_line(levels: list[tuple[str, ...]], placed: list[Placed]) -> str:
    cells: list[tuple[str, str]] = []
    for column, value, span in placed:
        header = _header(levels, column, span)
        if not value:
            continue
        if cells and header and cells[-1][0] == header:  # two columns under one header, no sub-header
            cells[-1] = (header, f"{cells[-1][1]}{_LEVELS}{value}")
        else:
            cells.append((header, value))
    return " ; ".join(
        f"{header} : {value}" if header and header != value else value for header, value in cells
    )


def _header(levels: list[tuple[str, ...]], column: int, span: int) -> str:
    """What names the columns a cell covers: the header levels they share, else each column's name."""
    covered = [level for level in levels[column : column + span] if level]
    if not covered:
        return ""
    shared = covered[0]
    for other in covered[1:]:
        same = 0
        while same < min(len(shared), len(other)) and shared[same] == other[same]:
            same += 1
        shared = shared[:same]
    if shared:
        return _LEVELS.join(shared)
    return " / ".join(dict.fromkeys(_LEVELS.join(level) for level in covered))
