"""device-agent monitors: the catalog as a table, personal-data attributes marked."""


def add_parser(subparsers):
    parser = subparsers.add_parser("monitors", help="print which attributes each platform and SDK version offer, and in which kind")
    parser.add_argument("--platform", help="show only this platform: ios, android or linux")
    parser.add_argument("--sdk-version", help="show only the catalog rows that cover this SDK version, such as 2.11.4")
    parser.add_argument("--long", action="store_true", help="add each attribute's unit and description")
    parser.add_argument("--json", action="store_true", help="print the selected rows and their attributes as JSON")
    parser.set_defaults(handler=list_monitors)


def list_monitors(args):
    from agent.catalog import Version, load_catalog
    from agent.errors import AgentError

    catalog = load_catalog()
    if args.platform is not None and args.platform not in catalog.rows:
        raise AgentError(f"unknown platform {args.platform!r}; use one of {', '.join(catalog.platforms)}")
    version = None
    if args.sdk_version is not None:
        try:
            version = Version.parse(args.sdk_version)
        except ValueError as error:
            raise AgentError(f"--sdk-version {error}") from None
    rows = selected_rows(catalog, args.platform, version)
    if not rows:
        ranges = "; ".join(f"{row.platform} SDK {row.sdk}" for row in selected_rows(catalog, args.platform, None))
        raise AgentError(f"no catalog row covers SDK version {args.sdk_version}; covered ranges: {ranges}")
    if args.json:
        import json

        print(json.dumps(catalog_summary(catalog, rows), indent=2))
    else:
        print(format_catalog(catalog, rows, args.long))
    return 0


def selected_rows(catalog, platform, version):
    """Return the catalog rows for one platform or all, those covering the version when one is given."""
    platforms = [platform] if platform else catalog.platforms
    rows = [row for name in platforms for row in catalog.rows[name]]
    if version is not None:
        rows = [row for row in rows if row.sdk.covers(version)]
    return rows


def catalog_summary(catalog, rows):
    """Return the rows with each offered attribute's kind, type, unit, personal flag and description."""
    summary = []
    for row in rows:
        attributes = []
        for name, kind in row.kinds.items():
            spec = catalog.attributes[name]
            attributes.append({"attribute": name, "kind": kind.value, "type": spec.type, "unit": spec.unit, "personal": spec.personal, "description": spec.description})
        summary.append({"platform": row.platform, "sdk": str(row.sdk), "attributes": attributes})
    return summary


def format_catalog(catalog, rows, long=False):
    """Return a table with one line per attribute any of the rows offers, and one kind column per row."""
    from agent.commands.tables import format_table

    header = ["ATTRIBUTE", *(f"{row.platform} SDK {row.sdk}" if str(row.sdk) != "any" else row.platform for row in rows), "PERSONAL", "TYPE"]
    if long:
        header += ["UNIT", "DESCRIPTION"]
    lines = []
    for name, spec in catalog.attributes.items():
        kinds = [row.kind_of(name) for row in rows]
        if not any(kinds):
            continue
        line = [name, *(kind.label if kind else "-" for kind in kinds), "yes" if spec.personal else "", spec.type]
        if long:
            line += [spec.unit or "-", spec.description]
        lines.append(line)
    return format_table(header, lines)
