"""The transaction manager of a transactional producer (``transactional_id`` set).

The state machine and the requests of Java's ``TransactionManager``, in asyncio:

- :meth:`TransactionManager.initialize` finds the transaction coordinator (FindCoordinator,
  key type 1) and sends InitProducerId for the transactional id, which fences every older
  producer of that id and aborts what it left open;
- :meth:`~TransactionManager.begin` moves READY to IN_TRANSACTION, locally;
- each partition is added to the transaction (AddPartitionsToTxn, one request for all the
  partitions waiting) before its first batch may be drained: the accumulator tells
  :meth:`~TransactionManager.batch_opened` and asks :meth:`~TransactionManager.may_send`;
- :meth:`~TransactionManager.send_offsets` adds a consumer group (AddOffsetsToTxn to the
  transaction coordinator), then commits its offsets (TxnOffsetCommit to the group's
  coordinator, FindCoordinator key type 0);
- :meth:`~TransactionManager.end` sends EndTxn once every batch of the transaction is settled
  (the producer flushes first); after an abort that left a sequence gap it bumps the epoch
  with InitProducerId (KIP-360).

Each transaction speaks the transaction protocol version the cluster's finalized
``transaction.version`` feature (ApiVersions v3+) allows when it begins, as Java does:
version 1 adds partitions with AddPartitionsToTxn v0-3 and ends with EndTxn v0-4; version 2
(KIP-890 part 2) lets Produce v12+ add partitions and TxnOffsetCommit v5+ add groups
implicitly, and ends with EndTxn v5+, whose response carries the bumped epoch (or a new
producer id) that the next transaction uses.

In version 2 the next transaction's batches wait until the coordinator has written the
previous one's markers (:meth:`~TransactionManager.poll` asks it with DescribeTransactions
every millisecond): a Produce sent before would wait in its partition's leader, which
retries adding the partition only every ``add.partitions.to.txn.retry.backoff.ms`` (20 ms
by default), and every request behind it on that connection with it. Version 1's
AddPartitionsToTxn does that asking itself.

Errors split as Java's: coordinator moves and loads are retried with backoff; a failed
batch or an abortable error leaves only :meth:`~TransactionManager.begin_abort`; fencing
and authorization errors are fatal.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import Final

from aioproducer._cluster import Cluster
from aioproducer._config import ProducerConfig
from aioproducer._connection import BrokerConnection
from aioproducer._consumer_group import ConsumerGroupMetadata
from aioproducer._idempotence import IdempotenceState
from aioproducer._metadata import TopicPartition
from aioproducer._protocol.api import Request, Response
from aioproducer._protocol.error_codes import (
    CLUSTER_AUTHORIZATION_FAILED,
    CONCURRENT_TRANSACTIONS,
    COORDINATOR_LOAD_IN_PROGRESS,
    COORDINATOR_NOT_AVAILABLE,
    INVALID_PRODUCER_EPOCH,
    INVALID_PRODUCER_ID_MAPPING,
    INVALID_TRANSACTION_TIMEOUT,
    INVALID_TXN_STATE,
    NOT_COORDINATOR,
    OPERATION_NOT_ATTEMPTED,
    PRODUCER_FENCED,
    REQUEST_TIMED_OUT,
    TRANSACTION_COORDINATOR_FENCED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    UNKNOWN_TOPIC_OR_PARTITION,
    UNSUPPORTED_VERSION,
)
from aioproducer._protocol.messages.add_offsets_to_txn import (
    AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse,
)
from aioproducer._protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
)
from aioproducer._protocol.messages.describe_transactions import (
    DescribeTransactionsRequest,
    DescribeTransactionsResponse,
)
from aioproducer._protocol.messages.end_txn import EndTxnRequest, EndTxnResponse
from aioproducer._protocol.messages.find_coordinator import (
    CoordinatorType,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)
from aioproducer._protocol.messages.init_producer_id import (
    InitProducerIdRequest,
    InitProducerIdResponse,
)
from aioproducer._protocol.messages.txn_offset_commit import (
    TxnOffset,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
)
from aioproducer.errors import (
    AbortableTransactionError,
    BrokerUnavailableError,
    ConnectionLostError,
    FencedProducerError,
    IllegalStateError,
    InvalidProducerIdMappingError,
    KafkaTimeoutError,
    ProducerError,
    UnsupportedVersionError,
    broker_error,
)

__all__ = ["TransactionManager", "TransactionState"]

log = logging.getLogger("aioproducer.transactions")

#: the coordinator moved: look it up again, then retry
_MOVED: Final = frozenset({COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR})
#: retry the same coordinator after a backoff
_RETRY: Final = frozenset(
    {COORDINATOR_LOAD_IN_PROGRESS, CONCURRENT_TRANSACTIONS, UNKNOWN_TOPIC_OR_PARTITION}
)
_FENCED: Final = frozenset({INVALID_PRODUCER_EPOCH, PRODUCER_FENCED})
#: fatal besides fencing
_FATAL: Final = frozenset(
    {
        TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        CLUSTER_AUTHORIZATION_FAILED,
        INVALID_TXN_STATE,
        INVALID_TRANSACTION_TIMEOUT,
        TRANSACTION_COORDINATOR_FENCED,
        UNSUPPORTED_VERSION,
        # the coordinator forgot our producer id (transactional.id.expiration.ms): recovering
        # could repeat work a newer producer of the id already did; fatal in Java (KAFKA-18019)
        INVALID_PRODUCER_ID_MAPPING,
    }
)
_TRANSACTION_VERSION: Final = "transaction.version"  # the finalized feature (KIP-890)
_TXN_OFFSET_COMMIT_V2: Final = 5  # adds the group to the transaction (version 2)
#: Java's retry for CONCURRENT_TRANSACTIONS at a transaction's start (the sender's too)
CONCURRENT_BACKOFF_MS: Final = 20
_CONCURRENT_FIRST_BACKOFF_MS: Final = 2  # ours: the first of those retries, doubling to 20
_MARKERS_POLL_S: Final = 0.001  # how often to ask whether the markers are written
_MARKERS_WAIT_MAX_S: Final = 0.1  # then send anyway (the broker's retries' own bound)


class TransactionState(enum.Enum):
    """Where a transactional producer stands (Java's ``TransactionManager.State``)."""

    UNINITIALIZED = "uninitialized"
    READY = "ready"
    IN_TRANSACTION = "in transaction"
    COMMITTING = "committing"
    ABORTING = "aborting"
    ABORTABLE_ERROR = "abortable error"
    FATAL_ERROR = "fatal error"


class _RetryError(Exception):
    """Internal: the request should be sent again (``moved``: to a coordinator looked up
    again), after retry_backoff_ms growing per attempt (``fast``: after 2, 4, 8, 16, then
    20 ms: the previous transaction is completing and will be done in a few ms)."""

    def __init__(self, reason: str, *, moved: bool = False, fast: bool = False):
        super().__init__(reason)
        self.moved = moved
        self.fast = fast


class TransactionManager:
    """The transaction state of one producer, and the requests that move it."""

    def __init__(
        self,
        config: ProducerConfig,
        cluster: Cluster,
        idempotence: IdempotenceState,
        *,
        on_fatal: Callable[[ProducerError], None],
        on_state: Callable[[TransactionState], None],
        wakeup: Callable[[], None],
    ) -> None:
        assert config.transactional_id is not None
        self.transactional_id = config.transactional_id
        self.config = config
        self.cluster = cluster
        self.idempotence = idempotence
        self.state = TransactionState.UNINITIALIZED
        self.last_error: ProducerError | None = None
        """What put the producer in ABORTABLE_ERROR or FATAL_ERROR."""
        self._on_fatal = on_fatal
        self._on_state = on_state
        self._wakeup = wakeup
        self._coordinators: dict[tuple[int, str], int] = {}
        self._added: set[TopicPartition] = set()
        self._pending: set[TopicPartition] = set()
        self._adding: asyncio.Task[None] | None = None
        self._started = False  # a partition or a group joined: EndTxn is needed
        self._offset_commits: set[asyncio.Future[None]] = set()  # EndTxn waits for them
        self._markers_pending = False
        """Version 2: the last EndTxn's markers may not be written yet; batches wait."""
        self._markers_probe: asyncio.Task[None] | None = None
        self._ends = 0  # EndTxns answered: a wait for older markers must not end a newer one
        self._probe_markers = True  # False once DescribeTransactions failed for good
        self.version = 1
        """The transaction protocol version of the current transaction (1 or 2)."""

    def __repr__(self) -> str:
        return f"<TransactionManager {self.transactional_id!r} {self.state.value}>"

    # -- state -------------------------------------------------------------------------------
    def _set_state(self, state: TransactionState) -> None:
        if state is not self.state:
            log.debug("transaction %r: %s -> %s", self.transactional_id, self.state, state)
            self.state = state
            self._on_state(state)

    def check_usable(self, what: str) -> None:
        """Raise the error for ``what`` unless the producer may still run transactions."""
        state = self.state
        if state is TransactionState.FATAL_ERROR:
            assert self.last_error is not None
            raise self.last_error
        if state is TransactionState.ABORTABLE_ERROR:
            error = AbortableTransactionError(
                f"{what}: the transaction failed ({self.last_error}); "
                "only abort_transaction() is allowed now"
            )
            error.__cause__ = self.last_error
            raise error

    def send_error(self, what: str) -> ProducerError:
        """The error for a send outside IN_TRANSACTION."""
        try:
            self.check_usable(what)
        except ProducerError as exc:
            return exc
        if self.state in (TransactionState.COMMITTING, TransactionState.ABORTING):
            return IllegalStateError(f"{what} while the transaction is {self.state.value}")
        return IllegalStateError(
            f"{what} outside a transaction: this producer is transactional "
            f"(transactional_id={self.transactional_id!r}); call begin_transaction() first"
        )

    def abortable(self, error: ProducerError) -> None:
        """The transaction cannot commit any more (a batch failed, ...)."""
        if self._open:
            log.warning("transaction %r must be aborted: %s", self.transactional_id, error)
            self.last_error = error
            self._set_state(TransactionState.ABORTABLE_ERROR)

    def fatal(self, error: ProducerError) -> None:
        """Nothing more is possible (fenced, not authorized): only close() is left."""
        if self.state is TransactionState.FATAL_ERROR:
            return
        self.last_error = error
        self._pending.clear()
        self._set_state(TransactionState.FATAL_ERROR)
        self._on_fatal(error)

    @property
    def _open(self) -> bool:
        """A transaction is begun and not ended: its batches may still go, or fail it."""
        return self.state in (TransactionState.IN_TRANSACTION, TransactionState.COMMITTING)

    @property
    def aborting(self) -> bool:
        """Batches need not be retried: the transaction will be aborted."""
        return self.state in (TransactionState.ABORTING, TransactionState.ABORTABLE_ERROR)

    # -- partitions --------------------------------------------------------------------------
    def batch_opened(self, tp: TopicPartition) -> None:
        """A batch of ``tp`` was queued: the partition must join the transaction (in
        version 2 its Produce request adds it)."""
        if tp not in self._added:
            if self.version >= 2:
                self._added.add(tp)
                self._started = True
            else:
                self._pending.add(tp)

    def may_send(self, tp: TopicPartition) -> bool:
        """``tp`` is in the transaction, and the previous one's markers are written: its
        batches may be drained."""
        return tp in self._added and not self._markers_pending

    def batch_failed(self, error: BaseException) -> None:
        """A batch of the transaction failed: it can only be aborted now (or, failed with
        INVALID_PRODUCER_ID_MAPPING, nothing is left but close(): see ``_FATAL``)."""
        if isinstance(error, InvalidProducerIdMappingError):
            self.fatal(error)
        elif isinstance(error, ProducerError):
            self.abortable(error)
        else:
            self.abortable(ProducerError(f"a batch failed: {error!r}"))

    def poll(self) -> None:
        """The sender's turn: add waiting partitions (one request in flight at a time), or
        (version 2) learn when the previous transaction's markers are written."""
        if not self._open:
            return
        if self._pending and (self._adding is None or self._adding.done()):
            self._adding = asyncio.get_running_loop().create_task(self._add_partitions())
        if (
            self._markers_pending
            and self._added
            and (self._markers_probe is None or self._markers_probe.done())
        ):
            self._markers_probe = asyncio.get_running_loop().create_task(self._await_markers())

    async def _await_markers(self) -> None:
        """Ask the coordinator every ``_MARKERS_POLL_S`` until it no longer prepares a
        commit or an abort (at most ``_MARKERS_WAIT_MAX_S``), then let the batches go. Any
        error lets them go at once: the Produce requests meet whatever it is. An EndTxn
        answered meanwhile (an abort while this asked) ends the asking and lets nothing
        go: the next asking is about that EndTxn's markers."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + _MARKERS_WAIT_MAX_S
        request = DescribeTransactionsRequest([self.transactional_id])
        ends = self._ends
        try:
            while self._ends == ends and loop.time() < give_up and self._open:
                conn = await self._coordinator(None)
                response = await conn.request(request)
                assert isinstance(response, DescribeTransactionsResponse)
                (found,) = response.transactions
                if found.error_code == TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
                    self._probe_markers = False  # DESCRIBE on the id: implied by WRITE
                if found.error_code or not found.state.startswith("Prepare"):
                    return
                await asyncio.sleep(_MARKERS_POLL_S)
        except UnsupportedVersionError:
            self._probe_markers = False
        except (_RetryError, ProducerError) as exc:
            log.debug("asking whether the markers are written: %s", exc)
        finally:
            if self._ends == ends:
                self._markers_pending = False
            self._wakeup()

    def stop(self) -> None:
        """The producer stops now: cancel the requests this manager runs by itself."""
        for task in (self._adding, self._markers_probe):
            if task is not None:
                task.cancel()

    async def _add_partitions(self) -> None:
        try:
            while self._pending and self._open:
                await self._add_once(sorted(self._pending))
        except ProducerError as exc:
            self._pending.clear()
            if self.state is not TransactionState.FATAL_ERROR:
                self.abortable(exc)
        except Exception as exc:
            log.exception("unexpected error adding partitions to the transaction")
            self.abortable(ProducerError(f"adding partitions to the transaction failed: {exc!r}"))
        finally:
            self._wakeup()

    async def _add_once(self, tps: list[TopicPartition]) -> None:
        topics: dict[str, list[int]] = {}
        for tp in tps:
            topics.setdefault(tp.topic, []).append(tp.partition)
        await self._call(
            lambda: AddPartitionsToTxnRequest(
                self.transactional_id, *self._producer_state(), topics
            ),
            lambda response: self._added_partitions(response, tps),
            "AddPartitionsToTxn",
            deadline=None,
        )

    def _added_partitions(self, response: Response, tps: list[TopicPartition]) -> None:
        assert isinstance(response, AddPartitionsToTxnResponse)
        errors: dict[int, list[str]] = {}
        retry: int | None = None
        for result in response.results:
            for part in result.partitions:
                tp = TopicPartition(part.topic, part.partition)
                code = part.error_code
                if code == 0:
                    if tp in self._pending:
                        self._pending.discard(tp)
                        self._added.add(tp)
                        self._started = True
                    continue
                if code in _MOVED or code in _RETRY:
                    retry = code
                elif code != OPERATION_NOT_ATTEMPTED:
                    errors.setdefault(code, []).append(f"{tp.topic}-{tp.partition}")
        for code, names in errors.items():
            self._raise(code, f"AddPartitionsToTxn for {', '.join(names)}")
        if retry is not None:
            self._retry_for(retry, "AddPartitionsToTxn", fast=not self._added)
        if self._pending.intersection(tps):
            raise _RetryError("AddPartitionsToTxn left partitions out")

    # -- offsets -----------------------------------------------------------------------------
    async def send_offsets(self, offsets: list[TxnOffset], group: ConsumerGroupMetadata) -> None:
        """AddOffsetsToTxn, then TxnOffsetCommit to the group coordinator."""
        done = asyncio.get_running_loop().create_future()
        self._offset_commits.add(done)
        try:
            await self._send_offsets(offsets, group)
        finally:
            self._offset_commits.discard(done)
            done.set_result(None)

    async def _send_offsets(self, offsets: list[TxnOffset], group: ConsumerGroupMetadata) -> None:
        deadline = self._deadline()
        if self.version < 2:
            await self._call(
                lambda: AddOffsetsToTxnRequest(
                    self.transactional_id, *self._producer_state(), group.group_id
                ),
                self._check_simple,
                "AddOffsetsToTxn",
                deadline=deadline,
            )
        # version 2: TxnOffsetCommit v5+ adds the group to the transaction itself (KIP-890)
        self._started = True
        remaining = {(o.topic, o.partition): o for o in offsets}

        def commit_request() -> Request:
            return TxnOffsetCommitRequest(
                self.transactional_id,
                group.group_id,
                *self._producer_state(),
                list(remaining.values()),
                group.generation_id,
                group.member_id,
                group.group_instance_id,
            )

        def committed(response: Response) -> None:
            assert isinstance(response, TxnOffsetCommitResponse)
            retry: int | None = None
            for part in response.partitions:
                code = part.error_code
                if code == 0:
                    remaining.pop((part.topic, part.partition), None)
                elif code in _MOVED or code == REQUEST_TIMED_OUT:
                    retry = NOT_COORDINATOR
                elif code in (
                    UNKNOWN_TOPIC_OR_PARTITION,
                    COORDINATOR_LOAD_IN_PROGRESS,
                    CONCURRENT_TRANSACTIONS,
                ):
                    retry = retry or code
                else:
                    self._raise(code, f"TxnOffsetCommit for {part.topic}-{part.partition}")
            if retry is not None:
                self._retry_for(retry, "TxnOffsetCommit")
            if remaining:
                raise _RetryError("TxnOffsetCommit left partitions out")

        v2 = self.version >= 2  # v5+ in version 2 only (Java's rule); v4 at most in 1
        await self._call(
            commit_request,
            committed,
            "TxnOffsetCommit",
            deadline=deadline,
            group=group.group_id,
            min_version=_TXN_OFFSET_COMMIT_V2 if v2 else 0,
            max_version=None if v2 else _TXN_OFFSET_COMMIT_V2 - 1,
        )

    # -- ending ------------------------------------------------------------------------------
    def begin(self) -> None:
        """READY -> IN_TRANSACTION."""
        self.check_usable("begin_transaction()")
        if self.state is TransactionState.IN_TRANSACTION:
            raise IllegalStateError("begin_transaction(): a transaction is already in progress")
        if self.state is not TransactionState.READY:
            raise IllegalStateError(f"begin_transaction() while the producer is {self.state.value}")
        self._started = False
        version = 2 if self.cluster.features.get(_TRANSACTION_VERSION, 0) >= 2 else 1
        if version < 2:
            self._markers_pending = False  # AddPartitionsToTxn waits for them itself
        if version != self.version:
            log.info(
                "transactional id %r: transaction protocol version %d",
                self.transactional_id,
                version,
            )
            self.version = version
        self._set_state(TransactionState.IN_TRANSACTION)

    def begin_commit(self) -> None:
        """IN_TRANSACTION -> COMMITTING (again COMMITTING: a retry after a timeout)."""
        self.check_usable("commit_transaction()")
        if self.state is TransactionState.COMMITTING:
            return
        if self.state is not TransactionState.IN_TRANSACTION:
            raise IllegalStateError(
                f"commit_transaction() while the producer is {self.state.value}"
                + (": call begin_transaction() first" if self._ready() else "")
            )
        self._set_state(TransactionState.COMMITTING)

    def begin_abort(self) -> None:
        """IN_TRANSACTION or ABORTABLE_ERROR -> ABORTING (again ABORTING: a retry)."""
        if self.state is TransactionState.FATAL_ERROR:
            assert self.last_error is not None
            raise self.last_error
        if self.state is TransactionState.ABORTING:
            return
        if self.state not in (TransactionState.IN_TRANSACTION, TransactionState.ABORTABLE_ERROR):
            raise IllegalStateError(
                f"abort_transaction() while the producer is {self.state.value}"
                + (": call begin_transaction() first" if self._ready() else "")
            )
        self._pending.clear()
        self._set_state(TransactionState.ABORTING)

    def _ready(self) -> bool:
        return self.state is TransactionState.READY

    async def end(self, commit: bool) -> None:
        """Every batch is settled: EndTxn (if anything joined), then READY.

        A commit whose batches failed meanwhile raises AbortableTransactionError instead.
        """
        if self._adding is not None and not self._adding.done():
            await asyncio.wait((self._adding,))
        if self._offset_commits:  # sent by another task, still going
            await asyncio.wait(list(self._offset_commits))
        what = "commit_transaction()" if commit else "abort_transaction()"
        if commit:
            self.check_usable(what)
        elif self.state is TransactionState.FATAL_ERROR:
            assert self.last_error is not None
            raise self.last_error
        if self._started:
            await self._call(
                lambda: EndTxnRequest(self.transactional_id, *self._producer_state(), commit),
                self._ended,
                "EndTxn",
                deadline=self._deadline(),
                max_version=4 if self.version < 2 else None,  # v5+: the epoch bumps
            )
            self._ends += 1
            self._markers_pending = self.version >= 2 and self._probe_markers
        if not commit and self.idempotence.bump_requested:
            await self.initialize(self.config.max_block_ms, bump=True)  # sequences restart
        self._added.clear()
        self._pending.clear()
        self._started = False
        self._set_state(TransactionState.READY)
        log.debug("transaction %r %s", self.transactional_id, "committed" if commit else "aborted")

    # -- producer id -------------------------------------------------------------------------
    def _producer_state(self) -> tuple[int, int]:
        return self.idempotence.producer_id, self.idempotence.epoch

    async def initialize(self, timeout_ms: int, *, bump: bool = False) -> None:
        """InitProducerId for the transactional id (``bump``: with our id and epoch, which
        the coordinator bumps if we are still the current producer)."""
        idempotence = self.idempotence

        def request() -> Request:
            if bump:
                return InitProducerIdRequest(
                    self.transactional_id,
                    self.config.transaction_timeout_ms,
                    idempotence.producer_id,
                    idempotence.epoch,
                )
            return InitProducerIdRequest(self.transactional_id, self.config.transaction_timeout_ms)

        def check(response: Response) -> None:
            assert isinstance(response, InitProducerIdResponse)
            if response.error_code:
                self._check_code(response.error_code, "InitProducerId")
            idempotence.new_epoch(response.producer_id, response.producer_epoch)
            log.info(
                "transactional id %r: producer id %d, epoch %d",
                self.transactional_id,
                response.producer_id,
                response.producer_epoch,
            )

        loop = asyncio.get_running_loop()
        await self._call(
            request,
            check,
            "InitProducerId",
            deadline=loop.time() + timeout_ms / 1000,
            min_version=3 if bump else 0,
        )
        if self.state is TransactionState.UNINITIALIZED:
            self._set_state(TransactionState.READY)

    # -- requests ----------------------------------------------------------------------------
    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.config.max_block_ms / 1000

    def _check_simple(self, response: Response) -> None:
        assert isinstance(response, AddOffsetsToTxnResponse | EndTxnResponse)
        if response.error_code:
            self._check_code(response.error_code, type(response).__name__[: -len("Response")])

    def _ended(self, response: Response) -> None:
        """EndTxn succeeded; from v5 (transaction version 2) the coordinator bumped the
        epoch (or, the epoch exhausted, gave a new producer id): sequences restart at 0."""
        self._check_simple(response)
        assert isinstance(response, EndTxnResponse)
        if response.producer_id >= 0:
            self.idempotence.new_epoch(response.producer_id, response.producer_epoch)
            log.debug(
                "transactional id %r: producer id %d, epoch %d after EndTxn",
                self.transactional_id,
                response.producer_id,
                response.producer_epoch,
            )

    def _check_code(self, code: int, what: str) -> None:
        if code in _MOVED or code in _RETRY:
            self._retry_for(code, what)
        self._raise(code, what)

    def _retry_for(self, code: int, what: str, *, fast: bool = False) -> None:
        error = broker_error(code, what)
        fast = fast and code == CONCURRENT_TRANSACTIONS
        raise _RetryError(str(error), moved=code in _MOVED, fast=fast)

    def _raise(self, code: int, what: str) -> None:
        """Raise the error for ``code``: fatal ones end the producer, the others the
        transaction."""
        error = broker_error(code, what)
        if code in _FENCED:
            fenced = FencedProducerError(
                f"this producer was fenced: another producer with transactional id "
                f"{self.transactional_id!r} started ({error})"
            )
            fenced.__cause__ = error
            self.fatal(fenced)
            raise fenced
        if code in _FATAL:
            self.fatal(error)
            raise error
        self.abortable(error)
        raise error

    async def _call(
        self,
        request: Callable[[], Request],
        handle: Callable[[Response], None],
        what: str,
        *,
        deadline: float | None,
        group: str | None = None,
        min_version: int = 0,
        max_version: int | None = None,
    ) -> None:
        """Send ``request()`` to the transaction (or ``group``'s) coordinator until
        ``handle`` accepts the response, retrying coordinator moves, loads and lost
        connections until ``deadline`` (loop time; None: while the state allows)."""
        loop = asyncio.get_running_loop()
        key = (CoordinatorType.GROUP, group) if group is not None else None
        attempt = 0
        while True:
            if self.state is TransactionState.FATAL_ERROR:
                assert self.last_error is not None
                raise self.last_error
            fast = False
            try:
                conn = await self._coordinator(key)
                version = conn.version_for(type(request()))
                if version < min_version:
                    raise ProducerError(f"{what} v{min_version}+ is needed; {conn} has v{version}")
                if max_version is not None:
                    version = min(version, max_version)
                handle(await conn.request(request(), version))
                return
            except _RetryError as retry:
                last = str(retry)
                fast = retry.fast
                if retry.moved:
                    self._forget(key)
            except (ConnectionLostError, BrokerUnavailableError, KafkaTimeoutError) as exc:
                last = str(exc)
                self._forget(key)
            attempt += 1
            if deadline is not None and loop.time() >= deadline:
                raise KafkaTimeoutError(
                    f"{what} for transactional id {self.transactional_id!r} did not succeed "
                    f"within max_block_ms ({self.config.max_block_ms} ms): {last}"
                )
            if fast:  # Java waits 20 ms (retry.backoff.ms if less); start shorter, then grow
                cap = min(CONCURRENT_BACKOFF_MS, self.config.retry_backoff_ms)
                backoff_ms = min(_CONCURRENT_FIRST_BACKOFF_MS << min(attempt - 1, 10), cap)
            else:
                backoff_ms = min(
                    self.config.retry_backoff_ms * 2 ** min(attempt - 1, 10),
                    max(self.config.retry_backoff_max_ms, self.config.retry_backoff_ms),
                )
            log.debug("%s: %s; retrying in %d ms", what, last, backoff_ms)
            await asyncio.sleep(backoff_ms / 1000)

    def _forget(self, key: tuple[int, str] | None) -> None:
        self._coordinators.pop(key or (CoordinatorType.TRANSACTION, self.transactional_id), None)

    async def _coordinator(self, key: tuple[int, str] | None) -> BrokerConnection:
        """A connection to the coordinator of ``key`` (None: our transactional id)."""
        if key is None:
            key = (CoordinatorType.TRANSACTION, self.transactional_id)
        cluster = self.cluster
        node = self._coordinators.get(key)
        if node is None:
            conn = cluster.any_connection()
            if conn is None:
                brokers = list(cluster.metadata.brokers)
                if not brokers:
                    cluster.metadata.request_refresh()
                    cluster.maybe_refresh()
                    raise _RetryError("no broker known yet")
                conn = await cluster.connection(brokers[0])
            response = await conn.request(FindCoordinatorRequest([key[1]], key[0]))
            assert isinstance(response, FindCoordinatorResponse)
            (found,) = response.coordinators
            if found.error_code:
                kind = "transaction" if key[0] == CoordinatorType.TRANSACTION else "group"
                self._check_code(found.error_code, f"FindCoordinator ({kind} {key[1]!r})")
            if cluster.metadata.broker(found.node_id) is None:
                cluster.metadata.request_refresh()
                cluster.maybe_refresh()
                raise _RetryError(f"coordinator {found.node_id} is not in the metadata yet")
            node = self._coordinators[key] = found.node_id
        return await cluster.connection(node)
