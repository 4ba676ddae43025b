"""Views of the annotation app, one module per area (data: import and export)."""
