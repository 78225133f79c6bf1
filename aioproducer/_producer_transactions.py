"""The transaction API of :class:`~aioproducer.Producer`: begin, commit, abort,
``send_offsets_to_transaction()`` and the ``transaction()`` context manager.

The producer's methods delegate here; each function takes the producer as its first argument.
The transaction's states and its requests to the coordinator are the
:class:`~aioproducer._transactions.TransactionManager`'s.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from aioproducer._consumer_group import ConsumerGroupMetadata, parse_offsets
from aioproducer._producer_state import ProducerState
from aioproducer._transactions import TransactionManager, TransactionState
from aioproducer.errors import AbortableTransactionError, IllegalStateError, ProducerError

if TYPE_CHECKING:
    from aioproducer._producer import Producer

__all__ = ["abort", "abort_open", "commit", "send_offsets", "transaction", "transactional"]

log = logging.getLogger("aioproducer.producer")
_P = TypeVar("_P", bound="Producer")
_IN_TRANSACTION: Final = TransactionState.IN_TRANSACTION
_OPEN_STATES: Final = (  # close() aborts a transaction in these
    _IN_TRANSACTION,
    TransactionState.ABORTABLE_ERROR,
    TransactionState.ABORTING,
)


def transactional(producer: Producer, what: str) -> TransactionManager:
    """The transaction manager, if ``what`` may run now."""
    if producer.config.transactional_id is None:
        raise IllegalStateError(f"{what} needs a transactional producer (transactional_id)")
    txn = producer._txn
    if txn is not None and producer._state is ProducerState.FAILED and txn.last_error is not None:
        raise txn.last_error
    if txn is None or producer._state is not ProducerState.RUNNING or not producer._in_loop():
        raise producer._unusable(what)
    return txn


async def commit(producer: Producer) -> None:
    """:meth:`Producer.commit_transaction <aioproducer.Producer.commit_transaction>`."""
    txn = transactional(producer, "commit_transaction()")
    txn.begin_commit()
    await producer.flush()
    await txn.end(commit=True)


async def abort(producer: Producer) -> None:
    """:meth:`Producer.abort_transaction <aioproducer.Producer.abort_transaction>`."""
    await _abort(producer, transactional(producer, "abort_transaction()"))


async def _abort(producer: Producer, txn: TransactionManager) -> None:
    txn.begin_abort()
    producer._wakeup()  # the sender fails what is queued
    await producer.flush()
    await txn.end(commit=False)


@contextlib.asynccontextmanager
async def transaction(producer: _P) -> AsyncIterator[_P]:
    """:meth:`Producer.transaction <aioproducer.Producer.transaction>`."""
    producer.begin_transaction()
    try:
        yield producer
    except BaseException:
        await _abort_after_error(producer)
        raise
    try:
        await producer.commit_transaction()
    except AbortableTransactionError:  # a record failed: abort, so the producer goes on
        await _abort_after_error(producer)
        raise


async def _abort_after_error(producer: Producer) -> None:
    txn = producer._txn
    if txn is not None and txn.state is not TransactionState.FATAL_ERROR:
        try:
            await producer.abort_transaction()
        except ProducerError:
            log.exception("aborting the transaction after an error failed")


async def send_offsets(
    producer: Producer,
    offsets: Mapping[Any, Any] | Sequence[Any],
    group: str | ConsumerGroupMetadata | bytes | object,
) -> None:
    """:meth:`Producer.send_offsets_to_transaction
    <aioproducer.Producer.send_offsets_to_transaction>`."""
    txn = transactional(producer, "send_offsets_to_transaction()")
    if txn.state is not _IN_TRANSACTION:
        raise txn.send_error("send_offsets_to_transaction()")
    parsed = parse_offsets(offsets)
    metadata = ConsumerGroupMetadata.parse(group)
    if parsed:
        await txn.send_offsets(parsed, metadata)


async def abort_open(producer: Producer) -> None:
    """close(): a transaction left open is aborted (Java does so too)."""
    txn = producer._txn
    if txn is None or txn.state not in _OPEN_STATES:
        return
    log.info("close(): aborting the open transaction")
    try:
        await _abort(producer, txn)
    except ProducerError as exc:
        log.warning("close(): aborting the open transaction failed: %s", exc)
