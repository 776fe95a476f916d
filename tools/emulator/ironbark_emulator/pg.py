"""Placeholder, replaced below."""
def configure(d): pass
def shutdown(): pass
