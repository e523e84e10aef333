"""Timer trigger: delete what is past its age, every hour, as the retention job's own role.

The local server runs the same job (devtools/run.py); operators can run it now
with ``python -m shared.cli run-retention``.
"""

import logging

import azure.functions as func

from shared.config import get_settings
from shared.services.retention import RetentionNotConfiguredError, run_retention

bp = func.Blueprint()  # type: ignore[no-untyped-call]

logger = logging.getLogger(__name__)


@bp.function_name("retention_purge")
@bp.timer_trigger(schedule="0 17 * * * *", arg_name="timer", run_on_startup=False, use_monitor=True)
def retention_purge(timer: func.TimerRequest) -> None:
    """Ended sessions, spent email tokens, old outbox rows and audit rows past their ages (docs/personal-data.md)."""
    try:
        report = run_retention(get_settings())
    except RetentionNotConfiguredError as error:
        logger.error("retention did not run: %s", error)  # every hour, until an operator sets it
        return
    logger.info("retention: %s", report.describe())
