"""Versioned datasets: processors that turn raw data into tensors, and their publication."""
