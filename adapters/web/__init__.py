"""The Web adapter."""
