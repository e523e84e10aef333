"""Timer trigger: drain the email outbox every minute (the local server runs the same drain)."""

import logging

import azure.functions as func

from shared.services.email.drain import drain_outbox

bp = func.Blueprint()  # type: ignore[no-untyped-call]

logger = logging.getLogger(__name__)


@bp.function_name("email_outbox_drain")
@bp.timer_trigger(schedule="0 */1 * * * *", arg_name="timer", run_on_startup=False, use_monitor=True)
def email_outbox_drain(timer: func.TimerRequest) -> None:
    """Sends due messages in batches until none are left or the batch budget is spent."""
    for _ in range(10):
        report = drain_outbox()
        if report.handled == 0:
            break
        logger.info(
            "email outbox: %d sent, %d retried, %d failed, %d expired, %d cancelled",
            report.sent,
            report.retried,
            report.failed,
            report.expired,
            report.cancelled,
        )
