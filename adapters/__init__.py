"""Platform adapters: each maps platform events to service calls and publishes for it."""
