"""Consent models arrive with the consent ledger (CON-1..4, POL-1, SHR-1..2)."""
