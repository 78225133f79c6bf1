"""A scripted Kafka cluster on 127.0.0.1 for fast tests of the code that produces.

:class:`FakeBroker` listens on one loopback port per fake node, all sharing one state, and
answers the APIs a producer uses (ApiVersions, Metadata, InitProducerId, Produce, and the
transaction APIs: :attr:`FakeBroker.transactions`, node 1 coordinating) with
the project's own codecs: enough to serve an :class:`aioproducer.Producer` end to end. It
stores what it is sent (decoded, with the offsets it assigned), refuses a partition's records
on a node that does not lead it, and checks idempotent sequences as a broker does
(:mod:`aioproducer.testing._fake_log`). A test scripts what goes wrong::

    async with FakeBroker(nodes=2) as broker:
        broker.create_topic("t", partitions=3)
        broker.script_produce("t", 0, [NotLeaderOrFollowerError, Action(throttle_ms=200)])
        broker.script(ApiKey.INIT_PRODUCER_ID, [CoordinatorNotAvailableError])
        broker.on_request(lambda received: DROP if received.connection == 2 else None)
        async with Producer(bootstrap_servers=broker.bootstrap_servers) as producer:
            await producer.send_and_wait("t", b"v", partition=0)
        assert broker.values("t", 0) == [b"v"]

What it does with a request, first match wins: the :meth:`~FakeBroker.on_request` hook's
:class:`Action`, else the next action scripted for that API (:meth:`~FakeBroker.script`),
else what a broker would do. For each partition of a Produce request, an action scripted for
that partition (:meth:`~FakeBroker.script_produce`) comes before both.

It is for millisecond tests of the sender, cluster and connection layers, in addition to the
tests against a real broker, never instead of them: only those prove the bytes to Kafka.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Literal, Self, TypeAlias, cast

from aioproducer._protocol.api import ApiKey
from aioproducer._protocol.error_codes import (
    INVALID_REQUIRED_ACKS,
    INVALID_TXN_STATE,
    LEADER_NOT_AVAILABLE,
    NOT_LEADER_OR_FOLLOWER,
    PRODUCER_FENCED,
    UNKNOWN_TOPIC_ID,
    UNKNOWN_TOPIC_OR_PARTITION,
    UNSUPPORTED_VERSION,
)
from aioproducer._protocol.framing import FrameDecoder
from aioproducer._protocol.headers import RequestHeader
from aioproducer._protocol.messages.api_versions import (
    ApiVersionRange,
    ApiVersionsResponse,
    FinalizedFeature,
)
from aioproducer._protocol.messages.end_txn import EndTxnRequest, EndTxnResponse
from aioproducer._protocol.messages.get_telemetry_subscriptions import (
    GetTelemetrySubscriptionsRequest,
    GetTelemetrySubscriptionsResponse,
)
from aioproducer._protocol.messages.init_producer_id import (
    InitProducerIdRequest,
    InitProducerIdResponse,
)
from aioproducer._protocol.messages.metadata import (
    MetadataBroker,
    MetadataPartition,
    MetadataRequest,
    MetadataResponse,
    MetadataTopic,
)
from aioproducer._protocol.messages.produce import (
    TOPIC_IDS_FROM,
    LeaderIdAndEpoch,
    NodeEndpoint,
    ProducePartitionResponse,
    ProduceRequest,
    ProduceResponse,
    ProduceTopicResponse,
)
from aioproducer._protocol.messages.push_telemetry import (
    PushTelemetryRequest,
    PushTelemetryResponse,
)
from aioproducer._protocol.primitives import ZERO_UUID
from aioproducer._protocol.records import DecodedBatch, DecodedRecord
from aioproducer.errors import BrokerError, ProtocolError
from aioproducer.testing._fake_log import DEFAULT_MAX_MESSAGE_BYTES, PartitionLog
from aioproducer.testing._fake_txn import TXN_SERVED, FakeTransactions
from aioproducer.testing._fake_wire import SERVED, frame_response, read_request

__all__ = ["DROP", "HANG", "Action", "FakeBroker", "ReceivedRequest", "RequestHook", "Scripted"]

log = logging.getLogger("aioproducer.testing.fake_broker")

HOST: Final = "127.0.0.1"
_TELEMETRY_APIS: Final = (ApiKey.GET_TELEMETRY_SUBSCRIPTIONS, ApiKey.PUSH_TELEMETRY)
_TRANSACTION_VERSION: Final = "transaction.version"
_IMPLICIT_ADD_FROM: Final = 12  # Produce version that adds partitions (transaction version 2)


@dataclass(frozen=True, slots=True)
class Action:
    """What the fake broker does with one request, or with one partition of a Produce."""

    error: int | type[BrokerError] = 0
    """Answer this error code (a Produce partition's records are then not written)."""
    append: bool = False
    """With ``error``: write the records all the same (a broker that wrote, then failed)."""
    throttle_ms: int = 0
    """The response's ``throttle_time_ms`` (the client must send nothing meanwhile)."""
    delay_ms: int = 0
    """Answer this much later; the answers behind it on the connection wait for it."""
    then: Literal["answer", "drop", "hang"] = "answer"
    """``"drop"``: close the connection instead of answering (after any write);
    ``"hang"``: never answer this nor anything after it on the connection."""

    def __post_init__(self) -> None:
        if not -(1 << 15) <= self.error_code < 1 << 15:
            raise ValueError(f"error code {self.error_code} is not an int16")
        if self.throttle_ms < 0 or self.delay_ms < 0:
            raise ValueError("throttle_ms and delay_ms must be >= 0")
        if self.then not in ("answer", "drop", "hang"):
            raise ValueError(f"then must be 'answer', 'drop' or 'hang', not {self.then!r}")

    @property
    def error_code(self) -> int:
        """:attr:`error` as a number."""
        return self.error if isinstance(self.error, int) else self.error.code


DROP: Final = Action(then="drop")
"""Handle the request (a Produce is written), then close the connection without answering."""
HANG: Final = Action(then="hang")
"""Handle the request (a Produce is written), then never answer on that connection again."""
_DEFAULT: Final = Action()
_WORST: Final = {"answer": 0, "drop": 1, "hang": 2}

Scripted: TypeAlias = Action | int | type[BrokerError]
"""A scripted step: an :class:`Action`, or just an error (a code or a BrokerError class)."""
ServedRequest: TypeAlias = object
"""The decoded request: an ApiVersions, Metadata, InitProducerId or Produce request."""


@dataclass(slots=True)
class ReceivedRequest:
    """A request the fake broker received, in :attr:`FakeBroker.requests`."""

    node_id: int
    connection: int
    """The connection's number, counted from 1 over every node."""
    header: RequestHeader
    request: ServedRequest
    received_at: float
    """The event loop's time when it arrived."""
    throttled: bool = False
    """It arrived while a throttle time this connection was given was still running."""
    answered_at: float | None = None
    """The event loop's time when its response was written (None: not answered)."""

    @property
    def api_key(self) -> int:
        """The request's API key."""
        return self.header.api_key


RequestHook: TypeAlias = Callable[[ReceivedRequest], Action | None]
"""Called with every request before it is handled; an :class:`Action`, or None."""


def _action(step: Scripted) -> Action:
    if isinstance(step, Action):
        return step
    if isinstance(step, int) or (isinstance(step, type) and issubclass(step, BrokerError)):
        return Action(error=step)
    raise TypeError(f"a scripted step is an Action, an error code or a BrokerError, not {step!r}")


def _merge(a: Action, b: Action) -> Action:
    """The request-level effects of two actions together (the larger, the worse)."""
    return Action(
        throttle_ms=max(a.throttle_ms, b.throttle_ms),
        delay_ms=max(a.delay_ms, b.delay_ms),
        then=a.then if _WORST[a.then] >= _WORST[b.then] else b.then,
    )


class FakeBroker:
    """Fake Kafka nodes ``1..nodes`` on 127.0.0.1, serving one shared, scriptable state."""

    def __init__(
        self,
        nodes: int = 1,
        *,
        api_versions: Mapping[int, tuple[int, int]] | None = None,
        cluster_id: str = "fake-cluster",
        answer_acks0: bool = False,
        telemetry: GetTelemetrySubscriptionsResponse | None = None,
        transaction_version: int | None = None,
    ) -> None:
        """``api_versions`` narrows the version ranges advertised for some API keys;
        ``answer_acks0`` answers Produce requests sent with acks=0 too, as Tansu does (Apache
        Kafka never answers one); ``telemetry`` offers KIP-714's APIs and answers
        GetTelemetrySubscriptions with it (:attr:`telemetry`, which may be changed);
        ``transaction_version`` is advertised as the finalized ``transaction.version``
        feature (None: no features, as before Kafka 3.x): at 2, Produce v12+ adds partitions
        to their transaction and EndTxn v5+ bumps the epoch (KIP-890)."""
        if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
            raise ValueError(f"nodes must be a positive int, not {nodes!r}")
        self.node_ids: tuple[int, ...] = tuple(range(1, nodes + 1))
        self.cluster_id = cluster_id
        self.answer_acks0 = answer_acks0
        self.telemetry = telemetry
        self.transaction_version = transaction_version
        self._versions = {
            key: (cls.MIN_VERSION, cls.MAX_VERSION)
            for key, cls in SERVED.items()
            if telemetry is not None or key not in _TELEMETRY_APIS
        }
        for key, (low, high) in (api_versions or {}).items():
            cls = SERVED.get(key) if key in self._versions else None
            if cls is None or not cls.MIN_VERSION <= low <= high <= cls.MAX_VERSION:
                raise ValueError(f"cannot advertise versions {low}..{high} of API key {key}")
            self._versions[key] = (low, high)
        self.requests: list[ReceivedRequest] = []
        """Every request handled, in arrival order (those behind a dropped or hung one on its
        connection are never handled)."""
        self.unadded_batches = 0
        """Transactional batches sent for a partition not added to their transaction."""
        self.accepted: dict[int, int] = dict.fromkeys(self.node_ids, 0)
        """Connections accepted, per node."""
        self._topics: dict[str, tuple[uuid.UUID, list[PartitionLog]]] = {}
        self._scripts: dict[int, deque[Action]] = {}
        self._produce_scripts: dict[tuple[str, int], deque[Action]] = {}
        self._hook: RequestHook | None = None
        self._fenced: dict[int, int] = {}
        self._epochs: dict[int, int] = {}
        self._ports: dict[int, int] = {}
        self._servers: list[asyncio.Server] = []
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        self.transactions = FakeTransactions(self.node_ids[0], lambda n: (HOST, self._ports[n]))
        """The transaction coordinator's state (transactions, committed offsets)."""

    def __repr__(self) -> str:
        return f"<FakeBroker nodes={len(self.node_ids)} {self.bootstrap_servers or 'stopped'}>"

    # -- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on a free loopback port per node."""
        if self._servers:
            raise RuntimeError("the fake broker is already started")
        loop = asyncio.get_running_loop()
        try:
            for node_id in self.node_ids:
                server = await loop.create_server(
                    functools.partial(_Connection, self, node_id), HOST, 0
                )
                self._servers.append(server)
                self._ports[node_id] = server.sockets[0].getsockname()[1]
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop listening, close every connection; raise what a hook raised, if anything."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        self.disconnect()
        if self._tasks:
            await asyncio.wait(self._tasks)
        for server in servers:
            await server.wait_closed()
        self._ports.clear()
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def bootstrap_servers(self) -> str:
        """``"127.0.0.1:port,..."`` of every node (empty before :meth:`start`)."""
        return ",".join(f"{HOST}:{port}" for port in self._ports.values())

    def port(self, node_id: int) -> int:
        """The port node ``node_id`` listens on."""
        return self._ports[node_id]

    def disconnect(self, node_id: int | None = None) -> None:
        """Close every open connection (to ``node_id`` only, if given) at once."""
        for conn in list(self._connections):
            if node_id is None or conn.node_id == node_id:
                conn.abort()

    # -- the cluster -----------------------------------------------------------------------
    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        *,
        leaders: Iterable[int] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        """Add a topic; partition ``i`` is led by ``leaders[i]`` (default: nodes in turn)."""
        if name in self._topics:
            raise ValueError(f"topic {name!r} exists")
        if partitions < 1 or max_message_bytes < 0:
            raise ValueError("a topic needs partitions >= 1 and max_message_bytes >= 0")
        chosen = (
            list(leaders)
            if leaders is not None
            else [self.node_ids[i % len(self.node_ids)] for i in range(partitions)]
        )
        if len(chosen) != partitions:
            raise ValueError(f"{len(chosen)} leaders for {partitions} partitions")
        for leader in chosen:
            self._check_node(leader)
        self._topics[name] = (
            uuid.uuid4(),
            [PartitionLog(leader, max_message_bytes) for leader in chosen],
        )

    def topic_id(self, name: str) -> uuid.UUID:
        """The topic's id (Metadata v10+ tells it; Produce v13+ names the topic by it)."""
        self._log(name, 0)
        return self._topics[name][0]

    def renew_topic_id(self, name: str) -> uuid.UUID:
        """Give the topic a new id, as if deleted and created again (its records stay):
        Produce requests naming the old id get UNKNOWN_TOPIC_ID."""
        self._log(name, 0)
        renewed = uuid.uuid4()
        self._topics[name] = (renewed, self._topics[name][1])
        return renewed

    def set_leader(self, topic: str, partition: int, node_id: int) -> None:
        """Move a partition's leadership to ``node_id`` (-1: no leader) and bump its epoch."""
        self._check_node(node_id)
        entry = self._log(topic, partition)
        entry.leader = node_id
        entry.leader_epoch += 1

    def leader(self, topic: str, partition: int) -> int:
        """The node leading the partition (-1 if none)."""
        return self._log(topic, partition).leader

    def fence_producer(
        self, producer_id: int | None = None, *, error: int | type[BrokerError] = PRODUCER_FENCED
    ) -> None:
        """Answer ``error`` to every later batch of ``producer_id`` (default: every id given
        out so far), whatever its epoch, as if another producer had taken the id over."""
        code = _action(error).error_code
        if producer_id is None and not self._epochs:
            raise ValueError("no producer id was given out yet: nothing to fence")
        for pid in self._epochs if producer_id is None else (producer_id,):
            self._fenced[pid] = code

    # -- scripting -------------------------------------------------------------------------
    def script(self, api_key: int, steps: Iterable[Scripted]) -> None:
        """Queue actions for the next requests of ``api_key``, one each, in order."""
        if api_key not in SERVED:
            raise ValueError(f"the fake broker does not serve API key {api_key}")
        self._scripts.setdefault(api_key, deque()).extend(_action(s) for s in steps)

    def script_produce(self, topic: str, partition: int, steps: Iterable[Scripted]) -> None:
        """Queue actions for the partition in the next Produce requests that carry it."""
        self._log(topic, partition)
        queue = self._produce_scripts.setdefault((topic, partition), deque())
        queue.extend(_action(s) for s in steps)

    def on_request(self, hook: RequestHook | None) -> None:
        """Call ``hook`` with every request from now on (None removes it). An exception it
        raises closes that connection and is raised again by :meth:`close`."""
        self._hook = hook

    def unscripted(self) -> dict[str, int]:
        """Actions scripted but not used yet, per API name or ``"topic-partition"``."""
        left = {ApiKey(key).name: len(q) for key, q in self._scripts.items() if q}
        left.update({f"{t}-{p}": len(q) for (t, p), q in self._produce_scripts.items() if q})
        return left

    # -- what arrived ----------------------------------------------------------------------
    def batches(self, topic: str, partition: int) -> list[DecodedBatch]:
        """The partition's stored batches, with their offsets, in log order."""
        return list(self._log(topic, partition).batches)

    def records(self, topic: str, partition: int) -> list[DecodedRecord]:
        """The partition's stored records, in offset order."""
        return self._log(topic, partition).records

    def values(self, topic: str, partition: int) -> list[bytes | None]:
        """The partition's stored record values, in offset order."""
        return [record.value for record in self.records(topic, partition)]

    def received(self, api_key: int, node_id: int | None = None) -> list[ReceivedRequest]:
        """The requests of ``api_key`` received (by ``node_id`` only, if given)."""
        return [
            r
            for r in self.requests
            if r.api_key == api_key and (node_id is None or r.node_id == node_id)
        ]

    # -- handling --------------------------------------------------------------------------
    def _check_node(self, node_id: int) -> None:
        if node_id != -1 and node_id not in self.node_ids:
            raise ValueError(f"no node {node_id} (nodes are {self.node_ids})")

    def _log(self, topic: str, partition: int) -> PartitionLog:
        entry = self._topics.get(topic)
        if entry is None or not 0 <= partition < len(entry[1]):
            raise ValueError(f"no partition {topic}-{partition}")
        return entry[1][partition]

    def _handle(self, received: ReceivedRequest) -> tuple[object | None, Action]:
        """The response to a request (None: none is due) and what to do with it."""
        self.requests.append(received)
        action = self._hook(received) if self._hook is not None else None
        if action is None:
            queue = self._scripts.get(received.api_key)
            action = queue.popleft() if queue else _DEFAULT
        request = received.request
        if isinstance(request, ProduceRequest):
            return self._produce(received, request, action)
        if isinstance(request, MetadataRequest):
            return self._metadata(request, action), action
        if isinstance(request, InitProducerIdRequest):
            return self._init_producer_id(request, action), action
        if received.api_key in TXN_SERVED:
            response = self.transactions.handle(
                received.node_id,
                request,
                received.header.api_version,
                action.error_code,
                lambda pid: self._epochs.get(pid, -1),
            )
            if (
                isinstance(response, EndTxnResponse)
                and isinstance(request, EndTxnRequest)
                and received.header.api_version >= 5
                and not response.error_code
                and (self.transaction_version or 0) >= 2
            ):  # KIP-890: every transaction ends with the epoch bumped
                epoch = self._epochs[request.producer_id] + 1
                self._epochs[request.producer_id] = epoch
                response = EndTxnResponse(0, 0, request.producer_id, epoch)
            return response, action
        if isinstance(request, GetTelemetrySubscriptionsRequest):
            return self._telemetry_subscription(request, action), action
        if isinstance(request, PushTelemetryRequest):
            return PushTelemetryResponse(action.error_code, action.throttle_ms), action
        return self._api_versions(received.header, action), action

    def _telemetry_subscription(
        self, request: GetTelemetrySubscriptionsRequest, action: Action
    ) -> GetTelemetrySubscriptionsResponse:
        answer = self.telemetry
        if answer is None or action.error_code:
            code = action.error_code or UNSUPPORTED_VERSION
            return GetTelemetrySubscriptionsResponse(
                code, uuid.UUID(int=0), 0, (), 0, 0, False, (), action.throttle_ms
            )
        assigned = answer.client_instance_id if request.client_instance_id.int == 0 else None
        return dataclasses.replace(
            answer,
            client_instance_id=assigned or uuid.UUID(int=0),
            throttle_time_ms=action.throttle_ms,
        )

    def _api_versions(self, header: RequestHeader, action: Action) -> ApiVersionsResponse:
        ranges = tuple(ApiVersionRange(k, low, high) for k, (low, high) in self._versions.items())
        if header.api_version > self._versions[ApiKey.API_VERSIONS][1]:
            return ApiVersionsResponse(UNSUPPORTED_VERSION, ranges, decoded_version=0)
        features: tuple[FinalizedFeature, ...] = ()
        if self.transaction_version is not None:
            tv = self.transaction_version
            features = (FinalizedFeature(_TRANSACTION_VERSION, tv, tv),)
        return ApiVersionsResponse(
            action.error_code,
            ranges,
            action.throttle_ms,
            finalized_features_epoch=1 if features else -1,
            finalized_features=features,
            decoded_version=header.api_version,
        )

    def _metadata(self, request: MetadataRequest, action: Action) -> MetadataResponse:
        names = sorted(self._topics) if request.topics is None else request.topics
        topics = []
        for name in names:
            entry = self._topics.get(name)
            if action.error_code or entry is None:
                code = action.error_code or UNKNOWN_TOPIC_OR_PARTITION
                topics.append(MetadataTopic(code, name, ()))
                continue
            topic_id, logs = entry
            partitions = tuple(
                MetadataPartition(
                    0 if p.leader >= 0 else LEADER_NOT_AVAILABLE,
                    index,
                    p.leader,
                    p.leader_epoch,
                    (p.leader,) if p.leader >= 0 else (),
                    (p.leader,) if p.leader >= 0 else (),
                )
                for index, p in enumerate(logs)
            )
            topics.append(MetadataTopic(0, name, partitions, topic_id))
        brokers = tuple(MetadataBroker(n, HOST, port) for n, port in self._ports.items())
        return MetadataResponse(
            brokers, tuple(topics), action.throttle_ms, self.cluster_id, self.node_ids[0]
        )

    def _init_producer_id(
        self, request: InitProducerIdRequest, action: Action
    ) -> InitProducerIdResponse:
        if action.error_code:
            return InitProducerIdResponse(action.error_code, -1, -1, action.throttle_ms)
        tid = request.transactional_id
        if tid is not None and tid in self.transactions.producer_ids:  # fences the older one
            producer_id = self.transactions.producer_ids[tid]
            epoch = self._epochs[producer_id] + 1
            if request.producer_id not in (-1, producer_id) or request.producer_epoch not in (
                -1,
                epoch - 1,
            ):
                return InitProducerIdResponse(PRODUCER_FENCED, -1, -1, action.throttle_ms)
            self.transactions.open.pop(tid, None)  # what the older one left open is aborted
        elif request.producer_id in self._epochs:
            producer_id = request.producer_id
            epoch = self._epochs[producer_id] + 1
        else:
            producer_id, epoch = 1000 + len(self._epochs), 0
        if tid is not None:
            self.transactions.producer_ids[tid] = producer_id
        self._epochs[producer_id] = epoch
        return InitProducerIdResponse(0, producer_id, epoch, action.throttle_ms)

    def _produce(
        self, received: ReceivedRequest, request: ProduceRequest, action: Action
    ) -> tuple[ProduceResponse | None, Action]:
        effects = action
        leaders: set[int] = set()
        topics = []
        by_id = received.header.api_version >= TOPIC_IDS_FROM
        names = {topic_id: name for name, (topic_id, _) in self._topics.items()}
        for i, (given, partitions) in enumerate(request.topic_data):
            topic_id = request.topic_ids[i] if by_id else ZERO_UUID
            name = names.get(topic_id) if by_id else given
            answers = []
            for index, records in partitions:
                if name is None:  # an id this cluster does not know (deleted, re-created)
                    answers.append(ProducePartitionResponse(index, UNKNOWN_TOPIC_ID, -1))
                    continue
                queue = self._produce_scripts.get((name, index))
                own = queue.popleft() if queue else None
                if own is not None:
                    effects = _merge(effects, own)
                if (
                    request.transactional_id is not None
                    and received.header.api_version >= _IMPLICIT_ADD_FROM
                    and (self.transaction_version or 0) >= 2
                ):  # KIP-890: the partition joins the transaction by itself
                    self.transactions.add(request.transactional_id, name, index)
                if request.transactional_id is not None and not self.transactions.added(
                    request.transactional_id, name, index
                ):
                    self.unadded_batches += 1  # a broker verifying partitions refuses these
                    answer = ProducePartitionResponse(index, INVALID_TXN_STATE, -1)
                else:
                    answer = self._produce_partition(
                        received.node_id,
                        name,
                        index,
                        records,
                        action=own or action,
                        acks=request.acks,
                    )
                if answer.current_leader is not None:
                    leaders.add(answer.current_leader.leader_id)
                answers.append(answer)
            topics.append(ProduceTopicResponse("" if by_id else given, tuple(answers), topic_id))
        if request.acks == 0 and not self.answer_acks0:
            return None, effects
        endpoints: tuple[NodeEndpoint, ...] = ()
        if received.header.api_version >= 10:
            endpoints = tuple(
                NodeEndpoint(n, HOST, self._ports[n], None) for n in sorted(leaders) if n >= 0
            )
        return ProduceResponse(tuple(topics), effects.throttle_ms, endpoints), effects

    def _produce_partition(
        self,
        node_id: int,
        topic: str,
        index: int,
        records: bytes | bytearray | memoryview | None,
        *,
        action: Action,
        acks: int,
    ) -> ProducePartitionResponse:
        entry = self._topics.get(topic)
        if entry is None or not 0 <= index < len(entry[1]):
            return ProducePartitionResponse(index, UNKNOWN_TOPIC_OR_PARTITION, -1)
        partition = entry[1][index]
        if partition.leader != node_id:
            leader = LeaderIdAndEpoch(partition.leader, partition.leader_epoch)
            return ProducePartitionResponse(
                index, NOT_LEADER_OR_FOLLOWER, -1, current_leader=leader
            )
        if acks not in (-1, 0, 1):
            return ProducePartitionResponse(index, INVALID_REQUIRED_ACKS, -1)
        error = action.error_code
        if not error or action.append:
            code, offset = partition.append(records, self._fenced)
            if not error:
                return ProducePartitionResponse(index, code, offset if not code else -1, -1, 0)
        return ProducePartitionResponse(index, error, -1, -1, 0)


class _Connection(asyncio.Protocol):
    """One client connection to a fake node: frames in, the broker's answers out, in order."""

    def __init__(self, broker: FakeBroker, node_id: int) -> None:
        self.broker = broker
        self.node_id = node_id
        self.number = 0
        self._decoder = FrameDecoder()
        self._queue: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue()
        self._transport: asyncio.Transport | None = None
        self._task: asyncio.Task[None] | None = None
        self._throttled_until = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport, though not always an asyncio.Transport subclass (uvloop's is not)
        self._transport = cast(asyncio.Transport, transport)
        broker = self.broker
        broker.accepted[self.node_id] += 1
        self.number = sum(broker.accepted.values())
        broker._connections.add(self)
        self._task = asyncio.get_running_loop().create_task(self._serve())
        broker._tasks.add(self._task)
        self._task.add_done_callback(broker._tasks.discard)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._decoder.feed(data)
        except ProtocolError as exc:
            log.warning("fake node %d: %s; closing the connection", self.node_id, exc)
            self.abort()
            return
        now = asyncio.get_running_loop().time()
        for frame in frames:
            self._queue.put_nowait((frame, now))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.broker._connections.discard(self)
        if self._task is not None:
            self._task.cancel()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
            self._transport = None
        self.broker._connections.discard(self)
        if self._task is not None:
            self._task.cancel()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            frame, arrived = await self._queue.get()
            try:
                header, request = read_request(frame)
            except ProtocolError as exc:
                log.warning("fake node %d: %s; closing the connection", self.node_id, exc)
                self.abort()
                return
            throttled = arrived < self._throttled_until
            received = ReceivedRequest(
                self.node_id, self.number, header, request, arrived, throttled
            )
            try:
                response, action = self.broker._handle(received)
            except Exception as exc:
                log.exception("fake node %d: handling a request failed", self.node_id)
                if self.broker._failure is None:
                    self.broker._failure = exc
                self.abort()
                return
            if action.delay_ms:  # at least that long on the loop's clock (uvloop's is coarse)
                until = arrived + action.delay_ms / 1000
                while (left := until - loop.time()) > 0:  # noqa: ASYNC110 - a clock, not a poll
                    await asyncio.sleep(left)
            if action.then == "drop" or self._transport is None:
                self.abort()
                return
            if action.then == "hang":
                return  # the connection stays open and silent until the client closes it
            if response is not None:
                self._transport.write(frame_response(header, response))
                received.answered_at = loop.time()
                if action.throttle_ms:
                    self._throttled_until = received.answered_at + action.throttle_ms / 1000
