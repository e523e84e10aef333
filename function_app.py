"""The Azure Functions app: registers the blueprints of functions/, nothing else.

Keep this import free of I/O (no settings read, no database or Redis
connection): it is the cold start of every new instance, and an import error
here makes the host find zero functions. The services are imported normally,
at the top of each module: deferring them to the first request did not bring
a new instance's first login or first /users/me sooner (BENCHMARKS.md).
"""

import azure.functions as func

from functions import (
    audit_logs,
    auth,
    authz,
    consent,
    email_outbox,
    events,
    invitations,
    mfa,
    platform,
    retention,
    roles,
    users,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

app.register_functions(platform.bp)
app.register_functions(auth.bp)
app.register_functions(mfa.bp)
app.register_functions(users.bp)
app.register_functions(invitations.bp)
app.register_functions(consent.bp)
app.register_functions(roles.bp)
app.register_functions(audit_logs.bp)
app.register_functions(events.bp)
app.register_functions(authz.bp)
app.register_functions(email_outbox.bp)
app.register_functions(retention.bp)
