"""Delivery: the leadership email (``email.eml``) and sending it over SMTP. Nothing leaves the machine unless
``collections-mi send`` is run."""
