"""Email: messages are written to an outbox in the caller's transaction and sent later.

Sending never blocks or fails the request that caused it; ``drain.drain_outbox``
sends with retries and backoff (a timer function in Azure, a background thread
in the local server).
"""
