"""guichet: a self-hostable answer engine for France services advisors."""

__version__ = "0.1.0"
