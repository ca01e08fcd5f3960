"""commitment-ledger: a signed, tamper-evident, event-sourced ledger of public commitments."""

__version__ = "0.1.0"
