"""The demo's raw data: the Palmer penguins, as shipped inside the ``palmerpenguins`` package.

344 penguins, numeric measurements and categorical species/island/sex, with
missing values; the binary target is ``sex``. The file is read from the
installed package, never downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

PACKAGE = "palmerpenguins"
TARGET = "sex"


@dataclass(frozen=True)
class Dataset:
    name: str
    file: Traversable
    target: str
    source: str
    license: str

    @property
    def key(self) -> str:
        return f"penguins/raw/{self.file.name}"


def penguins() -> Dataset:
    """The raw penguins CSV that ships with the installed ``palmerpenguins`` package."""
    return Dataset(
        name="penguins",
        file=resources.files(PACKAGE).joinpath("data", "penguins.csv"),
        target=TARGET,
        source="palmerpenguins (Horst, Hill & Gorman 2020; data by Gorman, Williams & Fraser 2014)",
        license="CC0-1.0",
    )
