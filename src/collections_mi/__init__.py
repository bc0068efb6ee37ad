"""collections_mi: month-end management information for credit & collections teams.

Floors, bottom to top; a floor imports only the floors below it (the import-linter contract in pyproject.toml,
checked by ``make lint``; README § Architecture):

core → config → sources | demo → validation → metrics → presentation → store → outputs → delivery → runs →
cli | notebook
"""

__version__ = "0.1.0"
