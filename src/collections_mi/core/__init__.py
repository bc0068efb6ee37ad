"""Core: what every floor shares and nothing depends on — exact money, currencies, the data contract, every
exception type, month periods and printable text. No IO."""
