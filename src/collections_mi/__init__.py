"""collections_mi: month-end management information for credit & collections teams.

Layers (imports only go left to right):
config → sources → validation → metrics → presentation → pack → delivery, with cli on top.
"""

__version__ = "0.1.0"
