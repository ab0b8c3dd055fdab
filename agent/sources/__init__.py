"""Sources: where collectors read attribute values from."""
