"""HTTP (and timer) triggers, one module per resource. Each is thin: declare, validate, call a service."""
