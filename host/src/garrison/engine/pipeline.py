"""What happens to a signal and to an execution report, in every mode.

Per signal: journaled, scored (gate or shadow, by every scorer bound to its
strategy), followed as a phantom, then (unless it is phantom-only, gated or
an exit with nothing to close) sized, turned into an order intent and judged
by the risk chain against the account *with every pending order counted*.
Approved orders wait in :attr:`Pipeline.staged` for the step's commit: only
the commit policy can make them into orders an execution client takes.

Per execution report: fills booked into the ledger, orders brought to their
terminal status in the journal (filled, rejected with its reason, canceled),
positions and trades journaled, outcomes handed to the scorers and the
strategy that asked.

This runs per signal and per report, not per candle: it may allocate and
look things up freely.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence

import attrs
from garrison_api import (
    AccountState,
    Clock,
    Event,
    ExitReason,
    KeyValueStore,
    Level,
    Market,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Outcome,
    Score,
    Scorer,
    Signal,
    SignalKind,
    Sizer,
    StrategyContext,
    Trade,
    Veto,
)

from garrison.engine.bus import PLUGIN_ERRORS, EventBus
from garrison.engine.commit import StagedOrder
from garrison.engine.context import HostContext, ScorerContext
from garrison.engine.execution import ExecutionClient, ExecutionReport, ReportKind
from garrison.engine.ids import client_order_id
from garrison.engine.ledger import Ledger
from garrison.engine.phantoms import PhantomTracker
from garrison.engine.watchdog import CallWatchdog, PluginCallTimeout
from garrison.journal import Journal
from garrison.risk.chain import RiskChain

# Module constants: enum members are descriptors in Python 3.11.
_ENTRY = SignalKind.ENTRY
_MARKET = OrderType.MARKET
_INFO = Level.INFO
_FILL = ReportKind.FILL
#: The strategy name of a position the host took over from the exchange (no signal).
ADOPTED = "adopted"
_BRACKET = ReportKind.BRACKET
_REJECT = ReportKind.REJECT
_CANCEL = ReportKind.CANCEL
_FILLED = OrderStatus.FILLED


class InvalidSignalError(ValueError):
    """A strategy returned something that is not a usable signal."""


# A tuple: isinstance checks one faster than a union of the same types.
_NUMBER = (float, int)


def _price_problem(name: str, value: object) -> str | None:
    if not isinstance(value, _NUMBER):  # numpy's float32 and int64 are neither
        return f"{name} {value!r} is a {type(value).__name__}, not a float"
    if not (value > 0 and value != math.inf):  # also false for NaN
        return f"{name} {value!r} is not a positive number"
    return None


def check_signal(signal: object, symbol: str) -> Signal:
    """The signal, if it is one the host can act on; InvalidSignalError says why not."""
    if not isinstance(signal, Signal):
        raise InvalidSignalError(f"returned {type(signal).__name__}, not a Signal")
    if signal.symbol != symbol:
        raise InvalidSignalError(f"signal for {signal.symbol!r} from a {symbol!r} candle")
    if signal.kind is _ENTRY:
        problem = _price_problem("entry price", signal.entry)
        if problem is None and signal.stop is not None:
            problem = _price_problem("stop", signal.stop)
        if problem is None and signal.take_profit is not None:
            problem = _price_problem("take_profit", signal.take_profit)
        if problem is not None:
            raise InvalidSignalError(problem)
    horizon = signal.horizon_ms
    if horizon is not None and (
        isinstance(horizon, bool) or not isinstance(horizon, int) or horizon <= 0
    ):
        raise InvalidSignalError(f"horizon_ms {horizon!r} is not a positive int")
    return signal


@attrs.frozen
class HeldCall:
    """A strategy call's checked signals, held until the end of the step's decisions."""

    strategy: str
    signals: Sequence[Signal]
    ts: int
    close: float
    ctx: StrategyContext
    #: The timeframe the strategy decided on (``ctx.current_tf``), or None.
    tf: str | None


def _any_batch_scorer(bindings: Sequence[ScorerBinding]) -> bool:
    """Whether a bound scorer rates in batches (then a step's signals are held)."""
    return any(hasattr(b.scorer, "score_batch") for b in bindings)


def _checked_score(score: object) -> Score:
    """``score`` if it is a Score with a value in [0, 1]; TypeError or ValueError otherwise."""
    if not isinstance(score, Score):
        raise TypeError(f"score() returned {type(score).__name__}, not a Score")
    value = float(score.value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"score {value!r} is outside [0, 1]")
    return score


def _entries_last(staged: StagedOrder) -> bool:
    return not staged.intent.reduce_only


def _ordinal(staged: Sequence[StagedOrder], intent: OrderIntent) -> int:
    """How many of the step's approved orders share ``intent``'s client id parts.

    The client id of the order after them carries this ordinal, so two
    orders of one strategy, symbol, side and kind in one step differ. The
    staged list holds exactly the step's approved orders, in the order they
    were decided, and is empty when a step (re-decided after a restart
    included) begins: the same decisions give the same ordinals, with no
    counter to reset or checkpoint.
    """
    symbol, strategy, ts = intent.symbol, intent.strategy, intent.ts
    side, reduce_only = intent.side, intent.reduce_only
    n = 0
    for s in staged:
        other = s.intent
        if (
            other.symbol == symbol
            and other.reduce_only == reduce_only
            and other.side is side
            and other.strategy == strategy
            and other.ts == ts
        ):
            n += 1
    return n


@attrs.frozen
class ScorerBinding:
    """One scorer of the profile and the strategies whose signals it rates.

    ``mode`` is ``gate`` (a signal needs ``value >= threshold`` to be traded)
    or ``shadow`` (scores journaled and compared, never gating).
    ``strategies`` empty: every strategy.
    """

    name: str
    scorer: Scorer
    mode: str = "gate"
    threshold: float = 0.5
    strategies: frozenset[str] = frozenset()
    #: The scorer's own key-value store: what ``ctx.storage`` is in ``score``
    #: (None: the deciding strategy's context is passed as it is).
    storage: KeyValueStore | None = None

    def covers(self, strategy: str) -> bool:
        return not self.strategies or strategy in self.strategies


@attrs.define
class OpenSignal:
    """What links an open position back to the signal that opened it."""

    signal_id: str
    signal: Signal
    score: float | None


class Pipeline:
    """Per-signal and per-report stages of one run. Used from the engine's thread only."""

    def __init__(
        self,
        *,
        profile: str,
        journal: Journal,
        bus: EventBus,
        ledger: Ledger,
        client: ExecutionClient,
        phantoms: PhantomTracker,
        markets: Mapping[str, Market],
        sizer: tuple[str, Sizer],
        chain: RiskChain,
        clock: Clock,
        scorers: Sequence[ScorerBinding] = (),
        outcome_hooks: Mapping[str, Callable[[Outcome], None]] | None = None,
        watchdog: CallWatchdog | None = None,
    ) -> None:
        self._profile = profile
        #: Marks every scorer call (score, learn) and strategy on_outcome call,
        #: as the step processor marks on_candle calls.
        self.watchdog = watchdog if watchdog is not None else CallWatchdog(1_000_000)
        #: The sequence number and name of the last call this pipeline marked
        #: (see :meth:`overrun_call`).
        self._marked_seq = -1
        self._marked_call = ""
        #: Scorers and strategies whose last learn / on_outcome failed: their
        #: run of failures goes on through good score / on_candle calls until
        #: a good learn / on_outcome (else a plugin failing every outcome and
        #: nothing else would never be failing "in a row").
        self.outcome_failing: set[str] = set()
        self._clock = clock
        self._journal = journal
        self._bus = bus
        self._ledger = ledger
        self._client = client
        self._phantoms = phantoms
        self._markets = markets
        self._sizer_name, self._sizer = sizer
        self._chain = chain
        self._scorers = tuple(scorers)
        self._scorer_ctxs: dict[tuple[str, int], StrategyContext] = {}
        self._scorers_for: dict[str, tuple[ScorerBinding, ...]] = {}
        #: Batch scores of the held calls being handled (see :meth:`_score_batches`).
        self._batched: dict[str, dict[int, Score | None]] | None = None
        #: A batch scorer is in the profile: strategy calls' signals are held
        #: until the step's decisions are over (:meth:`handle_held`).
        self.holds = _any_batch_scorer(self._scorers)
        #: The step's held strategy calls, in the order they were made.
        self.held: list[HeldCall] = []
        self._outcome_hooks = dict(outcome_hooks or {})
        self.signal_seq = 0
        self.intent_seq = 0
        self._staged: list[StagedOrder] = []
        #: Someone learns from outcomes (a scorer or a strategy's on_outcome):
        #: only then are entry scores kept for the outcome (without a scorer
        #: there is none). Every position's signal is kept: its outcome is
        #: journaled either way.
        self.learns = bool(self._scorers or self._outcome_hooks)
        self.open_signals: dict[str, OpenSignal] = {}
        #: Score of each approved entry's signal until its order ends (for its outcome).
        self.entry_scores: dict[str, float | None] = {}
        self.trades: list[Trade] = []
        self.signal_count = 0
        self.veto_count = 0
        self.rejected_count = 0
        #: (ts, message) of every halt, in order: the report says when trading stopped.
        self.halts: list[tuple[int, str]] = []

    # -- signals -------------------------------------------------------------

    def on_signals(
        self,
        strategy: str,
        signals: Sequence[object],
        symbol: str,
        ts: int,
        close: float,
        ctx: StrategyContext,
    ) -> None:
        """Handle what a strategy returned for a candle of ``symbol`` decided at ``ts``.

        ``close`` is that candle's close, the price an exit signal without one
        is taken to mean. With a batch scorer in the profile (:attr:`holds`)
        the checked signals are held until :meth:`handle_held`, at the end
        of the step's decisions, so that one ``score_batch`` call rates the
        entries of every symbol that closed in the step.

        Raises InvalidSignalError (after handling or holding the valid ones)
        so the caller can count it against the strategy.
        """
        if not isinstance(signals, list | tuple):
            raise InvalidSignalError(
                f"returned {type(signals).__name__}; on_candle must return a sequence of signals"
            )
        checked: list[Signal] = []
        problem: InvalidSignalError | None = None
        for raw in signals:
            try:
                checked.append(check_signal(raw, symbol))
            except InvalidSignalError as exc:
                problem = exc
        if checked:
            if self.holds:
                tf = getattr(ctx, "current_tf", None)
                self.held.append(HeldCall(strategy, checked, ts, close, ctx, tf))
            else:
                self._handle(strategy, checked, ts, close, ctx)
        if problem is not None:
            raise problem

    def handle_held(self) -> None:
        """Score the step's held entries in batches, then handle every held call in order.

        The calls are handled in the order the strategies made them, as
        without holding: the sizer and the risk chain see the same pending
        orders, so a profile trades the same with or without a batch scorer.
        """
        held = list(self.held)
        self.held.clear()
        self._batched = self._score_batches(held)
        try:
            for call in held:
                if call.tf is not None:
                    # The timeframe the strategy decided on, for a scorer (or
                    # sizer) reading indicators(symbol) without one.
                    call.ctx.current_tf = call.tf  # type: ignore[attr-defined]
                self._handle(call.strategy, call.signals, call.ts, call.close, call.ctx)
        finally:
            self._batched = None

    def _handle(
        self,
        strategy: str,
        signals: Sequence[Signal],
        ts: int,
        close: float,
        ctx: StrategyContext,
    ) -> None:
        for signal in signals:
            self.signal_seq += 1
            signal_id = str(self.signal_seq)
            self.signal_count += 1
            self._journal.record_signal(signal_id, strategy, signal)
            if signal.kind is _ENTRY:
                self._entry(strategy, signal_id, signal, ts, ctx)
            else:
                self._exit(strategy, signal_id, signal, ts, close)

    def _bindings(self, strategy: str) -> tuple[ScorerBinding, ...]:
        found = self._scorers_for.get(strategy)
        if found is None:
            found = self._scorers_for[strategy] = tuple(
                b for b in self._scorers if b.covers(strategy)
            )
        return found

    def _score(
        self, signal_id: str, strategy: str, signal: Signal, ctx: StrategyContext, ts: int
    ) -> tuple[Score | None, float | None, bool]:
        """Every bound scorer rates the signal: (sizer's score, outcome's score, may trade)."""
        if not self._scorers:
            return None, None, True
        bindings = self._bindings(strategy)
        if not bindings:
            return None, None, True
        quarantined = self._bus.guard.quarantined
        go = True
        lead: Score | None = None
        lead_value: float | None = None
        shadow_value: float | None = None
        for binding in bindings:
            name, gate = binding.name, binding.mode == "gate"
            score: Score | None = None
            if name not in quarantined:
                score = self._rate(binding, signal_id, signal, ctx, ts)
            if score is None:
                go = go and not gate  # without a score a gate cannot say yes
                continue
            value = float(score.value)
            passed = value >= binding.threshold
            self._journal.record_score(signal_id, name, score, binding.mode, passed)
            if gate:
                go = go and passed
                if lead is None:
                    lead, lead_value = score, value
            elif shadow_value is None:
                shadow_value = value
        return lead, lead_value if lead is not None else shadow_value, go

    def _score_batches(self, held: Sequence[HeldCall]) -> dict[str, dict[int, Score | None]] | None:
        """Scores of the step's held entry signals from each batch scorer, one call per group.

        Entries are grouped by strategy (and the timeframe it decided on):
        for every scorer bound to the strategy that has ``score_batch``
        (:class:`garrison_api.BatchScorer`), when two or more of a group's
        entries carry its features, one call rates them all, whichever
        symbols they are of. ``{scorer: {id(signal): score or None}}``; None
        marks a failed call (counted once). :meth:`_rate` takes its answer
        from here.
        """
        groups: dict[tuple[str, int, str | None], tuple[HeldCall, list[Signal]]] = {}
        for call in held:
            entries = [s for s in call.signals if s.kind is _ENTRY]
            if entries:
                key = (call.strategy, id(call.ctx), call.tf)
                groups.setdefault(key, (call, []))[1].extend(entries)
        quarantined = self._bus.guard.quarantined
        batched: dict[str, dict[int, Score | None]] = {}
        for (strategy, _, _), (first, entries) in groups.items():
            if len(entries) < 2:
                continue
            if first.tf is not None:
                first.ctx.current_tf = first.tf  # type: ignore[attr-defined]
            for binding in self._bindings(strategy):
                batch = getattr(binding.scorer, "score_batch", None)
                if batch is None or binding.name in quarantined:
                    continue
                names = getattr(binding.scorer, "feature_names", None) or ()
                usable = [e for e in entries if all(n in e.features for n in names)]
                if len(usable) < 2:
                    continue
                rate = functools.partial(batch, usable, self._scorer_ctx(binding, first.ctx))
                scores = self._call_scorer(binding, rate, first.ts)
                results: list[Score | None] = [None] * len(usable)
                if scores is not None:
                    try:
                        if not isinstance(scores, list | tuple) or len(scores) != len(usable):
                            raise TypeError(
                                f"score_batch() returned {type(scores).__name__} for "
                                f"{len(usable)} signals, not a sequence of as many Scores"
                            )
                        results = [_checked_score(score) for score in scores]
                    except PLUGIN_ERRORS as exc:
                        self._bus.guard.failed(binding.name, "score", exc, first.ts)
                    else:
                        if binding.name not in self.outcome_failing:
                            self._bus.guard.succeeded(binding.name)
                answers = batched.setdefault(binding.name, {})
                answers.update(zip(map(id, usable), results, strict=True))
        return batched or None

    def _call_scorer(
        self, binding: ScorerBinding, call: Callable[[], object], ts: int
    ) -> object | None:
        """``call()`` (a score or score_batch) marked for the watchdog; None if it failed."""
        watchdog = self.watchdog
        watchdog.seq = seq = watchdog.seq + 1
        self._marked_seq, self._marked_call = seq, "score"
        watchdog.active = binding.name
        try:
            result = call()
        except PLUGIN_ERRORS as exc:
            watchdog.active = None
            self._bus.guard.failed(binding.name, "score", exc, ts)
            return None
        watchdog.active = None
        over = watchdog.take_overrun() if watchdog.overrun is not None else None
        if over is not None and over.seq != seq:  # an earlier call's, reported late
            self._bus.guard.failed(over.component, self.overrun_call(over), over, ts)
            over = None
        if over is not None:  # flagged but not interrupted: its answer is void
            self._bus.guard.failed(binding.name, "score", over, ts)
            return None
        return result

    def _rate(
        self,
        binding: ScorerBinding,
        signal_id: str,
        signal: Signal,
        ctx: StrategyContext,
        ts: int,
    ) -> Score | None:
        batched = self._batched
        if batched is not None:
            answers = batched.get(binding.name)
            if answers is not None and id(signal) in answers:
                return answers[id(signal)]
        names = getattr(binding.scorer, "feature_names", None)
        if names:
            missing = [n for n in names if n not in signal.features]
            if missing:
                self._bus.emit(
                    Event(
                        ts=ts,
                        kind="scorer.features_missing",
                        level=Level.WARNING,
                        source=binding.name,
                        message=f"signal {signal_id} of {signal.symbol} lacks feature(s) "
                        f"{', '.join(missing)} that scorer {binding.name} reads; not scored",
                        data={"signal_id": signal_id, "missing": ",".join(missing)},
                    )
                )
                return None
        scorer_ctx = self._scorer_ctx(binding, ctx)
        raw = self._call_scorer(binding, lambda: binding.scorer.score(signal, scorer_ctx), ts)
        if raw is None:
            return None
        try:
            score = _checked_score(raw)
        except PLUGIN_ERRORS as exc:
            self._bus.guard.failed(binding.name, "score", exc, ts)
            return None
        if binding.name not in self.outcome_failing:
            self._bus.guard.succeeded(binding.name)
        return score

    def account(self, ts: int) -> AccountState:
        """The account at ``ts`` with every approved, unfilled order as pending."""
        staged = self._staged
        waiting = self._client.open_orders()
        if not staged and not waiting:
            return self._ledger.snapshot(ts)
        pending = tuple([s.intent for s in staged] + [o.intent for o in waiting])
        return self._ledger.snapshot(ts, pending)

    def _entry(
        self, strategy: str, signal_id: str, signal: Signal, ts: int, ctx: StrategyContext
    ) -> None:
        score, score_value, go = self._score(signal_id, strategy, signal, ctx, ts)
        self._phantoms.open(signal_id, strategy, signal, score_value)
        if not go or not signal.execute:
            return  # gated, or phantom-only: journaled and followed, never ordered
        market = self._markets.get(signal.symbol)
        if market is None:
            self._bus.emit(
                Event(
                    ts=ts,
                    kind="signal.dropped",
                    level=Level.WARNING,
                    source=strategy,
                    message=f"no market rules for {signal.symbol}; signal {signal_id} dropped",
                )
            )
            return
        account = self.account(ts)
        vetoes: list[Veto] = []
        qty: float | None = None
        if self._sizer_name in self._bus.guard.quarantined:
            vetoes.append(Veto("sizer", f"sizer {self._sizer_name} is quarantined"))
        else:
            try:
                qty = self._sizer.size(signal, score, account, market)
                if qty is not None:
                    if not math.isfinite(qty) or qty < 0:
                        raise ValueError(f"quantity {qty!r} is not a non-negative number")
                    qty = float(qty)  # a numpy scalar would reach the journal as one
            except PLUGIN_ERRORS as exc:
                self._bus.guard.failed(self._sizer_name, "size", exc, ts)
                qty = None
            else:
                if self._bus.guard.failures:
                    self._bus.guard.succeeded(self._sizer_name)
            if not qty:
                vetoes.append(
                    Veto(
                        "sizer",
                        f"{self._sizer_name} gave no quantity (too small for the "
                        "exchange minimums, no stop, or no equity)",
                    )
                )
        intent = self._intent(strategy, signal_id, signal, ts, market, qty or 0.0, False, None)
        if self._judge(intent, account, vetoes, signal) and self.learns:
            self.entry_scores[signal_id] = score_value

    def _exit(self, strategy: str, signal_id: str, signal: Signal, ts: int, close: float) -> None:
        price = signal.entry if math.isfinite(signal.entry) else close
        resolved = self._phantoms.exit_signal(signal.symbol, strategy, signal.side, price, ts)
        self.on_phantoms(resolved)
        if not signal.execute:
            return
        pos = self._ledger.positions.get(signal.symbol)
        if pos is None or pos.side is not signal.side or pos.strategy != strategy:
            return  # nothing of this strategy's to close: the signal is journaled, no more
        market = self._markets[signal.symbol]
        intent = self._intent(strategy, signal_id, signal, ts, market, pos.qty, True, price)
        self._judge(intent, self.account(ts), [], signal)

    def _intent(
        self,
        strategy: str,
        signal_id: str,
        signal: Signal,
        ts: int,
        market: Market,
        qty: float,
        reduce_only: bool,
        price: float | None,
    ) -> OrderIntent:
        self.intent_seq += 1
        # Positional, in OrderIntent's field order: built for every signal.
        if reduce_only:
            stop = take_profit = None
        else:
            stop, take_profit = signal.stop, signal.take_profit
        return OrderIntent(
            str(self.intent_seq),
            ts,
            signal.symbol,
            signal.side,
            qty,
            signal.entry if price is None else price,
            market,
            reduce_only,
            stop,
            take_profit,
            _MARKET,
            strategy,
            signal_id,
        )

    def _judge(
        self, intent: OrderIntent, account: AccountState, vetoes: list[Veto], signal: Signal
    ) -> bool:
        """Run the risk chain; stage the order when approved. True if approved."""
        vetoes.extend(self._chain.evaluate(intent, account))
        approved = not vetoes
        self._journal.record_intent(intent, approved)
        for veto in vetoes:
            self._journal.record_veto(intent.id, veto)
        if approved:
            intent_id = intent.id
            staged = self._staged
            order = Order(  # positional, in Order's field order
                intent_id,
                intent_id,
                client_order_id(
                    self._profile,
                    intent.strategy,
                    intent.symbol,
                    intent.ts,
                    intent.reduce_only,
                    intent.side._value_,
                    _ordinal(staged, intent) if staged else 0,
                ),
                intent.ts,
                intent.symbol,
                intent.side,
                intent.reduce_only,
                intent.qty,
                intent.order_type,
            )
            # tuple.__new__: the named tuple's generated __new__ is a Python call.
            staged.append(tuple.__new__(StagedOrder, (intent, order, signal)))
            return True
        self.veto_count += 1
        for veto in vetoes:
            if veto.halt:
                self.halt(veto, intent.ts)
        return False

    def exit_pending(self, symbol: str) -> bool:
        """True if an exit of ``symbol`` is approved and not yet filled (staged or sent)."""
        if any(st.intent.reduce_only and st.intent.symbol == symbol for st in self._staged):
            return True
        return any(
            o.intent.reduce_only and o.intent.symbol == symbol for o in self._client.open_orders()
        )

    def operator_exit(self, symbol: str, ts: int, price: float, reason: str) -> bool | None:
        """Close the position in ``symbol`` at market because an operator asked.

        The exit is journaled as a signal of the strategy that holds the
        position (its reason says who asked) and goes through the risk chain
        like any exit. Returns None when there is nothing to close (flat, or
        an exit already on its way), else whether the chain approved it.
        """
        pos = self._ledger.positions.get(symbol)
        market = self._markets.get(symbol)
        if pos is None or market is None or self.exit_pending(symbol):
            return None
        signal = Signal(symbol, ts, pos.side, SignalKind.EXIT, price, reason=reason)
        self.signal_seq += 1
        signal_id = str(self.signal_seq)
        self.signal_count += 1
        self._journal.record_signal(signal_id, pos.strategy, signal)
        intent = self._intent(pos.strategy, signal_id, signal, ts, market, pos.qty, True, price)
        return self._judge(intent, self.account(ts), [], signal)

    @property
    def risk_chain(self) -> RiskChain:
        """The risk chain every intent goes through."""
        return self._chain

    @property
    def sizer(self) -> tuple[str, Sizer]:
        """The sizer's name and the sizer sizing entries now."""
        return self._sizer_name, self._sizer

    def replace_sizer(self, sizer: Sizer) -> None:
        """Size entries from now on with ``sizer`` (same name: an operator changed its risk)."""
        self._sizer = sizer

    @property
    def scorers(self) -> tuple[ScorerBinding, ...]:
        """The scorer bindings rating signals now, in the profile's order."""
        return self._scorers

    def replace_scorers(self, bindings: Sequence[ScorerBinding]) -> None:
        """Rate signals with ``bindings`` from now on (an operator's swap or reload)."""
        self._scorers = tuple(bindings)
        self._scorers_for.clear()
        self._scorer_ctxs.clear()
        self.learns = self.learns or bool(self._scorers)
        # Applied between steps, when nothing is held: a swapped-in batch
        # scorer holds the next step's signals, a swapped-out one stops it.
        self.holds = _any_batch_scorer(self._scorers)

    def set_outcome_hook(self, strategy: str, hook: Callable[[Outcome], None] | None) -> None:
        """Hand ``strategy``'s outcomes to ``hook`` from now on (None: to no strategy)."""
        if hook is None:
            self._outcome_hooks.pop(strategy, None)
        else:
            self._outcome_hooks[strategy] = hook
            # Entry scores are kept from now on; earlier entries' outcomes carry none.
            self.learns = True

    def replace_chain(self, chain: RiskChain) -> None:
        """Judge intents with ``chain`` from now on (a reloaded profile's risk rules)."""
        self._chain = chain

    def halt(self, veto: Veto, ts: int) -> None:
        """Halt trading because of ``veto`` (a rule asked), with a critical event if it changed."""
        if self._ledger.halt(veto.halt_until):
            until = "until resumed" if veto.halt_until is None else f"until {veto.halt_until}"
            message = f"trading halted by {veto.stage} {until}: {veto.reason}"
            self.halts.append((ts, f"{veto.stage} {until}: {veto.reason}"))
            self._bus.emit(
                Event(
                    ts=ts,
                    kind="risk.halted",
                    level=Level.CRITICAL,
                    message=message,
                    data={"stage": veto.stage, "reason": veto.reason, "until": veto.halt_until},
                )
            )

    # -- the step's orders ---------------------------------------------------

    @property
    def staged(self) -> list[StagedOrder]:
        """Approved orders waiting for the step's commit: one list, only ever cleared."""
        return self._staged

    def take_staged(self) -> list[StagedOrder]:
        """The step's approved orders, exits first: a symbol can close and reopen in one step."""
        staged = self._staged
        out = sorted(staged, key=_entries_last) if len(staged) > 1 else list(staged)
        staged.clear()
        return out

    # -- execution reports -----------------------------------------------------

    def on_reports(self, reports: Sequence[ExecutionReport]) -> None:
        """Book what the venue reported: fills into the ledger, orders to their end status."""
        for report in reports:
            kind = report.kind
            if kind is _FILL or kind is _BRACKET:
                fill = report.fill
                assert fill is not None
                self._journal.record_fill(fill)
                if fill.reduce_only:
                    self._book_exit(report)
                else:
                    self._book_entry(report)
                order = report.order
                if order is not None and kind is _FILL and report.remaining <= 0.0:
                    self._journal.record_order_status(order.order, _FILLED, fill.price, "")
            elif kind is _REJECT or kind is _CANCEL:
                self._order_ended(report)

    def _order_ended(self, report: ExecutionReport) -> None:
        committed = report.order
        assert committed is not None
        order = committed.order
        rejected = report.kind is _REJECT
        status = OrderStatus.REJECTED if rejected else OrderStatus.CANCELED
        self._journal.record_order_status(order, status, None, report.reason)
        if self.learns and committed.intent.signal_id is not None:
            self.entry_scores.pop(committed.intent.signal_id, None)
        if rejected:
            self.rejected_count += 1
        verb = "rejected" if rejected else "canceled"
        # An exit the stop beat to it is routine; an entry refused is worth a look.
        level = Level.INFO if order.reduce_only or not rejected else Level.WARNING
        self._bus.emit(
            Event(
                ts=self._clock.now_ms(),
                kind=f"order.{verb}",
                level=level,
                source=committed.intent.strategy or "host",
                message=f"order {order.id} ({order.client_order_id}) for {order.symbol} "
                f"{verb}: {report.reason}",
                data={
                    "order_id": order.id,
                    "client_order_id": order.client_order_id,
                    "symbol": order.symbol,
                    "reduce_only": order.reduce_only,
                    "reason": report.reason,
                },
            )
        )

    def _book_entry(self, report: ExecutionReport) -> None:
        fill = report.fill
        committed = report.order
        assert fill is not None
        # No order of the host's behind an entry: a position the exchange venue adopted.
        strategy = committed.intent.strategy if committed is not None else ADOPTED
        signal_id = committed.intent.signal_id if committed is not None else None
        ledger = self._ledger
        pos = ledger.open_position(
            fill,
            stop=report.stop,
            take_profit=report.take_profit,
            strategy=strategy,
            signal_id=signal_id,
        )
        symbol = pos.symbol
        if signal_id is not None and committed is not None:
            signal = committed.signal
            if signal is not None and symbol not in self.open_signals:
                # The trade is the signal's outcome; its phantom stays, only
                # to measure the trade's excursions.
                self._phantoms.take(symbol, signal_id, fill.ts)
                score = self.entry_scores.pop(signal_id, None) if self.learns else None
                self.open_signals[symbol] = OpenSignal(signal_id, signal, score)
            else:
                self._phantoms.drop(symbol, signal_id)
        self._journal.record_position(fill.ts, "open", pos)
        side = pos.side._value_
        self._bus.emit_fields(
            fill.ts,
            "position.opened",
            f"{side} {pos.qty:g} {symbol} at {fill.price:g}",
            _INFO,
            pos.strategy,
            {
                "symbol": symbol,
                "side": side,
                "qty": pos.qty,
                "price": fill.price,
                "stop": pos.stop,
            },
        )

    def _book_exit(self, report: ExecutionReport) -> None:
        fill = report.fill
        assert fill is not None
        ledger = self._ledger
        closing = ledger.positions.get(fill.symbol)
        if closing is None:
            self._bus.emit(
                Event(
                    ts=fill.ts,
                    kind="fill.unmatched",
                    level=Level.ERROR,
                    message=f"reducing fill of {fill.qty:g} {fill.symbol} with no position "
                    "held: booked in the fills table only",
                    data={"symbol": fill.symbol, "order_id": fill.order_id},
                )
            )
            return
        reason = report.exit_reason or ExitReason.SIGNAL
        pos, trade, _signal_id = ledger.reduce_position(fill, reason)
        journal = self._journal
        if trade is None:
            journal.record_position(fill.ts, "update", pos)
            return
        self.trades.append(trade)
        journal.record_position(fill.ts, "close", closing)
        journal.record_trade(trade)
        # Equity is stamped with the clock (the step's close), like the periodic
        # points, so the curve stays in time order; the fill keeps the bar's open.
        journal.record_equity(
            self._clock.now_ms(), ledger.balance, ledger.equity(), len(ledger.positions)
        )
        side = trade.side._value_
        exit_reason = trade.exit_reason._value_
        self._bus.emit_fields(
            fill.ts,
            "trade.closed",
            f"{side} {trade.symbol} closed by {exit_reason}: pnl {trade.pnl:+.2f}",
            _INFO,
            trade.strategy,
            {
                "symbol": trade.symbol,
                "side": side,
                "pnl": trade.pnl,
                "r": trade.r_multiple,
                "reason": exit_reason,
            },
        )
        opened = self.open_signals.pop(fill.symbol, None)
        if opened is None:
            return
        shadow = self._phantoms.release(fill.symbol, opened.signal_id)
        if trade.r_multiple is None:
            return
        excursions = (
            shadow.excursions(trade.entry_price, trade.exit_price) if shadow is not None else None
        )
        mfe, mae = excursions if excursions is not None else (None, None)
        outcome = Outcome(
            opened.signal,
            trade.strategy,
            trade.r_multiple,
            trade.exit_reason,
            trade.exit_ts,
            False,
            opened.signal_id,
            opened.score,
            trade.entry_price,
            trade.exit_price,
            mfe,
            mae,
        )
        # Every signal's outcome is journaled in one table, traded or phantom.
        journal.record_phantom(opened.signal_id, trade.strategy, outcome)
        self.outcome(outcome)

    # -- outcomes ------------------------------------------------------------

    def on_phantoms(self, resolved: Sequence[tuple[str, Outcome]]) -> None:
        """Journal resolved phantoms and hand their outcomes on."""
        for signal_id, outcome in resolved:
            self._journal.record_phantom(signal_id, outcome.strategy, outcome)
            self.outcome(outcome)

    def outcome(self, outcome: Outcome) -> None:
        """Let the scorers bound to the outcome's strategy, and the strategy, learn from it."""
        strategy = outcome.strategy
        bindings = self._bindings(strategy) if self._scorers else ()
        hook = self._outcome_hooks.get(strategy)
        if not bindings and hook is None:
            return
        guard = self._bus.guard
        ts = outcome.closed_ts
        for binding in bindings:
            if binding.name not in guard.quarantined:
                # A good learn() does not end a scorer's run of failures (one that
                # fails to score every signal must not stay in because it still
                # learns); it only lets the next good score() end it.
                self._outcome_call(binding.name, "learn", binding.scorer.learn, outcome, ts)
        if hook is not None and strategy not in guard.quarantined:
            self._outcome_call(strategy, "on_outcome", hook, outcome, ts)

    def _outcome_call(
        self, name: str, call: str, fn: Callable[[Outcome], object], outcome: Outcome, ts: int
    ) -> None:
        """Call ``fn(outcome)`` marked for the watchdog, as score() is; keep ``outcome_failing``.

        A call over the budget is interrupted or, finishing anyway, counted as
        a failure of ``name``.
        """
        watchdog = self.watchdog
        watchdog.seq = seq = watchdog.seq + 1
        self._marked_seq, self._marked_call = seq, call
        watchdog.active = name
        try:
            fn(outcome)
        except PLUGIN_ERRORS as exc:
            watchdog.active = None
            self.outcome_failing.add(name)
            self._bus.guard.failed(name, call, exc, ts)
            return
        watchdog.active = None
        if watchdog.overrun is not None and self.count_overrun(ts) == seq:
            self.outcome_failing.add(name)
        elif self.outcome_failing:
            self.outcome_failing.discard(name)

    # -- call budget -----------------------------------------------------------

    def _scorer_ctx(self, binding: ScorerBinding, ctx: StrategyContext) -> StrategyContext:
        """``ctx`` with the scorer's own storage (one wrapper per scorer and strategy use)."""
        if binding.storage is None or not isinstance(ctx, HostContext):
            return ctx
        key = (binding.name, id(ctx))
        wrapped = self._scorer_ctxs.get(key)
        if wrapped is None:
            wrapped = self._scorer_ctxs[key] = ScorerContext(ctx, binding.storage)
        return wrapped

    def overrun_call(self, over: PluginCallTimeout) -> str:
        """Which call ``over`` stopped: the pipeline's own (score, learn, on_outcome) or on_candle.

        The pipeline remembers the sequence number of the last call it marked;
        every other marked call is a strategy's ``on_candle``.
        """
        return self._marked_call if over.seq == self._marked_seq else "on_candle"

    def count_overrun(self, ts: int) -> int:
        """Count the overrun the watchdog recorded and could not interrupt; its call's seq.

        -1 when there was none to count.
        """
        over = self.watchdog.take_overrun()
        if over is None:
            return -1
        self._bus.guard.failed(over.component, self.overrun_call(over), over, ts)
        return over.seq


__all__ = [
    "ExitReason",
    "InvalidSignalError",
    "OpenSignal",
    "Pipeline",
    "ScorerBinding",
    "check_signal",
]
