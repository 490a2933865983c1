"""Every string the engine puts on or reads from the wire, in one place."""

from enum import StrEnum

SDK_HEADER = "x-inngest-sdk"
NO_RETRY_HEADER = "x-inngest-no-retry"
RETRY_AFTER_HEADER = "retry-after"
SERVER_KIND_HEADER = "x-inngest-server-kind"
SERVER_KIND_DEV = "dev"
SERVER_KIND_CLOUD = "cloud"  # what a signed engine says it is, as `inngest start` does
EXPECTED_SERVER_KIND_HEADER = "x-inngest-expected-server-kind"
SDK_HANDLED_HEADER = "x-inngest-sdk-handled"  # on the SDK's 401, which lacks x-inngest-sdk
REQUEST_VERSION = 2

DISCOVERY_STEP = "step"
DEFAULT_RETRIES = 4
MAX_RETRIES = 20
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
ENVIRONMENT_ID = "00000000-0000-4000-b000-000000000000"
DEDUP_WINDOW_MS = 24 * 3600 * 1000
DEFAULT_TIMEOUT_MS = 365 * 24 * 3600 * 1000


class RunStatus(StrEnum):
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


class Opcode(StrEnum):
    STEP_RUN = "StepRun"
    STEP_ERROR = "StepError"
    STEP_FAILED = "StepFailed"
    STEP_PLANNED = "StepPlanned"
    SLEEP = "Sleep"
    WAIT_FOR_EVENT = "WaitForEvent"
    INVOKE_FUNCTION = "InvokeFunction"
    AI_GATEWAY = "AIGateway"


class QueueKind(StrEnum):
    """What a queue item does when it comes due."""

    CALL = "call"  # an HTTP call to the SDK (discovery or one targeted step)
    WAKE = "wake"  # a sleep ends
    WAIT_TIMEOUT = "wait_timeout"  # a wait_for_event expires
    INVOKE_TIMEOUT = "invoke_timeout"  # an invoked child took too long
    AI_REQUEST = "ai_request"  # an AIGateway step's outbound request
    DEBOUNCE = "debounce"  # a debounced run starts
    BATCH = "batch"  # a partial batch times out and starts
    CRON = "cron"  # a cron trigger fires


class InternalEvent(StrEnum):
    FUNCTION_FAILED = "inngest/function.failed"
    FUNCTION_FINISHED = "inngest/function.finished"
    FUNCTION_CANCELLED = "inngest/function.cancelled"
    FUNCTION_INVOKED = "inngest/function.invoked"
    SCHEDULED_TIMER = "inngest/scheduled.timer"


INTERNAL_PREFIX = "inngest/"
INVOKE_TIMEOUT_ERROR = {
    "name": "InngestInvokeTimeoutError",
    "message": "Timed out waiting for invoked function to complete",
}
