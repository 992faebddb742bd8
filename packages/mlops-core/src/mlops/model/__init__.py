"""Versioned models: serializer plugins, training configuration and publication."""
