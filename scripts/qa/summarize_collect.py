"""Summarise `collect --json` output read from stdin for attack_root.sh.

Prints the number of attributes, the status and value or reason of those
named in $WATCH, and any attribute that is not ok and gives no reason.
"""

import json
import os
import sys

try:
    rows = json.load(sys.stdin)
except ValueError as error:
    print("not JSON:", error)
    sys.exit()
watch = os.environ.get("WATCH", "").split(",")
parts = []
for row in rows:
    if row["attribute"] in watch:
        shown = row.get("value") if row["status"] == "ok" else row.get("reason")
        parts.append(f"{row['attribute']}={row['status']}:{str(shown)[:80]}")
missing = [row["attribute"] for row in rows if row["status"] != "ok" and not row.get("reason")]
print(len(rows), "attributes;", "; ".join(parts), "| without reason:", missing)
