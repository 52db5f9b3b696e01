"""Scanlet: a local scanning service that web pages the user allowed can drive."""

__version__ = "0.1.0"
