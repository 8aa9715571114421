"""lightkit's built-in components, registered through the same entry points as any plugin."""
