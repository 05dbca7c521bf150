"""Write the Terraform module's README tables (requirements, resources, inputs, outputs) between its markers.

terraform-docs cannot be installed from the package registries this project uses, so this does its job for this
module, from the same .tf files, parsed with python-hcl2:

    .venv/bin/python scripts/terraform_docs.py            # rewrite terraform/README.md between the markers
    .venv/bin/python scripts/terraform_docs.py --check    # exit 1 if the tables are out of date (the test suite)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "terraform"
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
_OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)


def load(path: Path) -> dict[str, Any]:
    """One .tf file as python-hcl2 gives it, string values without their quotes."""
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=_OPTIONS)


def blocks(module: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, body) of every `kind` block (variable, output) of the module, in file order."""
    found = []
    for path in sorted(module.glob("*.tf")):
        for entry in load(path).get(kind, []):
            found.extend(entry.items())
    return found


def resources(module: Path) -> list[str]:
    """`type.name` of every resource of the module."""
    names = []
    for path in sorted(module.glob("*.tf")):
        for entry in load(path).get("resource", []):
            for kind, bodies in entry.items():
                names.extend(f"{kind}.{name}" for name in bodies)
    return sorted(names)


def _expression(text: str) -> str:
    """`${list(string)}` -> `list(string)`: python-hcl2 wraps expressions, HCL does not."""
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "\\<").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def tables(module: Path = MODULE) -> str:
    """The generated Markdown, markers excluded."""
    versions = load(module / "versions.tf")["terraform"][0]
    lines = ["## Requirements", "", "| Name | Version |", "|------|---------|"]
    lines.append(f"| terraform | {_cell(versions['required_version'])} |")
    for providers in versions["required_providers"]:
        for name, spec in providers.items():
            lines.append(f"| {name} ({spec['source']}) | {_cell(spec['version'])} |")

    lines += ["", "## Resources", "", "| Name |", "|------|"]
    lines += [f"| `{name}` |" for name in resources(module)]

    lines += ["", "## Inputs", "", "| Name | Description | Type | Default | Required |"]
    lines.append("|------|-------------|------|---------|:--------:|")
    for name, body in blocks(module, "variable"):
        required = "default" not in body
        default = "n/a" if required else _code(json.dumps(body["default"]))
        description = body["description"] + (" (sensitive)" if body.get("sensitive") else "")
        kind = _code(_expression(body["type"]))
        lines.append(
            f"| `{name}` | {_cell(description)} | {_cell(kind)} | {_cell(default)} | {'yes' if required else 'no'} |"
        )

    lines += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    lines += [f"| `{name}` | {_cell(body['description'])} |" for name, body in blocks(module, "output")]
    return "\n".join(lines) + "\n"


def render(readme: str, generated: str) -> str:
    """The README with the text between its markers replaced."""
    head, begin, rest = readme.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"README lacks the markers {BEGIN} ... {END}")
    return f"{head}{BEGIN}\n{generated}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the README's tables are out of date")
    parser.add_argument("--module", type=Path, default=MODULE, help="the module folder (default: terraform/)")
    args = parser.parse_args(argv)
    readme_path = args.module / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    updated = render(readme, tables(args.module))
    if args.check:
        if updated != readme:
            print(f"{readme_path}: tables out of date; run: python scripts/terraform_docs.py", file=sys.stderr)
            return 1
        print(f"{readme_path}: tables up to date")
        return 0
    if updated != readme:
        readme_path.write_text(updated, encoding="utf-8")
        print(f"{readme_path}: tables updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
