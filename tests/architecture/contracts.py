"""An import-linter contract of crispml's own: another service's private modules are off limits.

A service's public module is its ``service.py``: the service class, and what it
exports for others (its operations' requests, the entities and errors they share,
typed interfaces such as the lake's filesystem). Every other module of
``crispml.services.<name>`` is private to that service. Import-linter's
``protected`` contract can name modules to protect, but not "every module of a
package but one", which is the rule; hence this small contract type, registered
in pyproject.toml's ``[tool.importlinter]`` (``contract_types``).
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output


class PublicModulesContract(Contract):
    """Modules outside a package under ``containers`` import only its ``public`` module (or the package)."""

    type_name = "public_modules"

    containers = fields.ListField(subfield=fields.StringField())
    public = fields.StringField()

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        public: str = self.public  # type: ignore[assignment]
        broken: list[dict[str, Any]] = []
        for container in self.containers:  # type: ignore[attr-defined]
            for package in sorted(graph.find_children(container)):
                if not graph.find_children(package):
                    continue  # a plain module of the container (its __init__ catalogue, say), not a service
                allowed = {package, f"{package}.{public}"}
                for imported in sorted(graph.find_descendants(package) - allowed):
                    for importer in sorted(graph.find_modules_that_directly_import(imported)):
                        if importer == package or importer.startswith(f"{package}."):
                            continue
                        details = graph.get_import_details(importer=importer, imported=imported)
                        broken.append({"importer": importer, "imported": imported,
                                       "lines": [d["line_number"] for d in details]})
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["broken"]:
            lines = ", ".join(str(n) for n in item["lines"])
            output.print_error(f"{item['importer']} -> {item['imported']} (l. {lines}): import it from the "
                               f"service's {self.public} module instead", bold=False)
            output.new_line()
