"""Config: the params file — read by a bounded YAML loader, checked strictly, frozen into each pack."""
