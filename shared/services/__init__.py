"""Business operations. Each takes plain values, never an HttpRequest."""
