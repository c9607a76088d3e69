"""Named loggers, one per subsystem.

Handlers log with %-style arguments and name the ids involved (batch id,
message id, peer).  API keys are never logged.
"""

import logging

root_logger = logging.getLogger("emulator")
api_logger = logging.getLogger("emulator.api")
ingest_logger = logging.getLogger("emulator.ingest")
store_logger = logging.getLogger("emulator.store")
smtp_logger = logging.getLogger("emulator.smtp")
tracking_logger = logging.getLogger("emulator.tracking")
console_logger = logging.getLogger("emulator.console")
