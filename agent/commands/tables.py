"""Plain-text tables for command output."""


def format_table(header, rows):
    """Return left-aligned columns two spaces apart, without trailing spaces."""
    widths = [max(len(str(row[index])) for row in [header, *rows]) for index in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
