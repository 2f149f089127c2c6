"""Typed modal screens: each returns one typed result to its caller."""
