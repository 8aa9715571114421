"""Reusable data building blocks: the fast in-memory batch path and the data-shape convention."""
