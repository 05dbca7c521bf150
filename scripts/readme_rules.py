"""Write the README's tables of the policy's rules from the registry (pgaudit_monitor.policy.rules), or check them.

python scripts/readme_rules.py           # rewrite the tables between their markers in README.md
python scripts/readme_rules.py --check   # exit 1 when README.md differs from what would be written
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pgaudit_monitor.policy.rules import markdown_table

README = Path(__file__).resolve().parent.parent / "README.md"
TABLES = {"RULES_REPORTED": True, "RULES_EXCLUDED": False}


def render(text: str) -> str:
    """`text` with each marked table replaced by the registry's."""
    for marker, reported in TABLES.items():
        begin, end = f"<!-- BEGIN_{marker} -->\n", f"<!-- END_{marker} -->"
        head, found, rest = text.partition(begin)
        _, found_end, tail = rest.partition(end)
        if not (found and found_end):
            raise SystemExit(f"{README}: the markers {begin.strip()} ... {end} are missing")
        text = head + begin + markdown_table(reported=reported) + end + tail
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if README.md is out of date")
    args = parser.parse_args()
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check:
        if wanted != current:
            print(f"{README}: the rule tables differ from the registry: run python scripts/readme_rules.py",
                  file=sys.stderr)  # fmt: skip
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
