"""The step processor: one bar-close instant, handled the same way in every mode.

A *step* is every bar that closes at one instant, across all symbols and
timeframes. Drivers (the replay driver today, the live and paper driver next)
only produce steps; this class handles each one in a fixed order:

1. :meth:`begin` — the clock moves to the step's close.
2. Booking — for each symbol's *execution series* (its finest timeframe;
   coarser series are context only): what the venue executed during the bar
   (:meth:`book`: fills at the open, stops and take-profits intrabar), the
   symbol's phantoms, and its mark at the close. Every symbol is booked
   before anything of the step is decided.
3. :meth:`settle` — the account is marked on the new closes; the kill
   switches (``max_drawdown``, ``daily_loss_limit``) are judged on that mark
   and halt trading at once when crossed; the periodic equity row is
   written, stamped with the step's close and holding its equity.
4. Decisions — strategies decide on the step's bars, longer timeframes
   first, then symbols in a fixed order (:meth:`decide`). Each decision's
   signals are sized and judged with the account with every pending order
   counted, the ones approved earlier in this very step included.
5. :meth:`end` — with a batch scorer in the profile, the step's signals
   were held: they are scored in batches across symbols and handled now,
   in the order they were made. The profile's commit policy journals the
   step's approved orders (with a restart checkpoint) and only then are
   they sent to the execution client.

A strategy, scorer, sizer or notifier that raises (``SystemExit`` included)
or overruns its call budget is reported, and quarantined after
``max_plugin_failures`` failures in a row; the step goes on without it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from garrison_api import Candle, TradingState, Veto

from garrison.engine.bus import PLUGIN_ERRORS, EventBus
from garrison.engine.clock import SimulatedClock
from garrison.engine.commit import CommitPolicy, StagedOrder, revive_orders
from garrison.engine.execution import BarVenue, ExecutionReport
from garrison.engine.ledger import DAY_MS, Ledger
from garrison.engine.phantoms import PhantomTracker
from garrison.engine.pipeline import InvalidSignalError, OpenSignal, Pipeline
from garrison.engine.state import STATE_VERSION, StateCodec, check_version
from garrison.journal import Journal
from garrison.risk.rules import KillSwitch

_HALTED = TradingState.HALTED


class StepProcessor:
    """Handles steps for one run; see the module docstring. Used from the engine's thread only."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        venue: BarVenue,
        ledger: Ledger,
        phantoms: PhantomTracker,
        journal: Journal,
        bus: EventBus,
        clock: SimulatedClock,
        policy: CommitPolicy,
        kill_switches: Sequence[tuple[str, KillSwitch]] = (),
        equity_interval_ms: int = 3_600_000,
        driver_state: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.venue = venue
        self.ledger = ledger
        self.phantoms = phantoms
        self.journal = journal
        self.bus = bus
        self.clock = clock
        self.policy = policy
        self._kill_switches = tuple(kill_switches)
        self._interval = max(1, equity_interval_ms)
        self._driver_state = driver_state
        self._codec = StateCodec()
        #: What an operator asked for over the control channel (pause, halt,
        #: flatten...), applied in order at the next step, after settling and
        #: before any decision (:meth:`apply_controls`). Drivers check it per step.
        self.controls: list[Callable[[int], None]] = []
        #: Control requests from the control server's thread: (action, future)
        #: pairs the engine runs on its own thread, at its next step or loop
        #: turn (:meth:`serve_inbox`). A deque: appended to from that thread.
        self.inbox: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        #: Strategy uses an operator (or the profile's ``enabled = false``) keeps
        #: out of the decisions: the drivers call none of them, while their
        #: positions stay with the venue's stops and the host's exits.
        self.disabled: set[str] = set()
        #: Close time of the step being handled (or the last one), -1 before the first.
        self.step_close = -1
        #: Close time at or after which the next periodic equity row is due.
        self.next_equity = 0
        self.steps = 0
        # Equity above this floor cannot trip a kill switch: recomputed when
        # the peak or the day's start moves, so most steps compare one number.
        self._floor = -math.inf
        self._floor_peak = math.nan
        self._floor_day_start = math.nan
        #: See :meth:`settle`; nothing is inside them before the first settle.
        self.bounds: tuple[float, float, int, float, float] = (
            math.inf,
            -math.inf,
            0,
            math.inf,
            -math.inf,
        )

    # -- 1. the clock ------------------------------------------------------------

    def begin(self, close_ms: int) -> None:
        """Start the step closing at ``close_ms`` (never before the last one)."""
        if close_ms < self.step_close:
            raise ValueError(f"step at {close_ms} comes after the step at {self.step_close}")
        # The processor owns the simulated clock: set its slot, no call per step.
        self.clock._now = close_ms
        self.step_close = close_ms
        self.steps += 1

    # -- 2. booking ---------------------------------------------------------------

    def book(self, reports: Sequence[ExecutionReport]) -> None:
        """Book what the venue reported (fills, refusals, cancellations)."""
        if reports:
            self.pipeline.on_reports(reports)

    def book_bar(
        self, symbol: str, ts: int, open_: float, high: float, low: float, close: float
    ) -> None:
        """Book one execution bar: the venue's executions, then the symbol's phantoms.

        The replay driver does the same with fast paths of its own (it skips
        bars that cannot execute anything); other drivers call this.
        """
        reports = self.venue.on_bar(symbol, ts, open_, high, low)
        if reports:
            self.book(reports)
        self.ledger.marks[symbol] = close
        if self.phantoms.taken:
            self.phantoms.mark(symbol, high, low)
        if self.phantoms.by_symbol.get(symbol):
            resolved = self.phantoms.on_bar(symbol, ts, open_, high, low, close)
            if resolved:
                self.pipeline.on_phantoms(resolved)

    # -- 3. marks, kill switches, equity ------------------------------------------

    def settle(self) -> float:
        """Mark the account on the step's closes, judge the kill switches, write equity due.

        Returns the equity, and leaves in :attr:`bounds` the ``(low, high,
        due, low_held, high_held)`` inside which the steps after this one
        need no settling: until ``due`` (ms), a step whose equity lies
        strictly between ``low`` and ``high`` changes nothing this method
        would act on. Below ``low`` a kill switch may fire or the max
        drawdown deepens; above ``high`` the peak moves; at ``due`` an equity
        row, a new UTC day or the end of a timed halt comes. A driver that
        can estimate equity cheaply (the replay's sum over held positions)
        settles only outside them; the margins absorb the estimate's
        rounding. ``low_held`` and ``high_held`` are the bounds once
        positions are held (after a fill, when flat before).
        """
        close_ms = self.step_close
        ledger = self.ledger
        equity = ledger.mark(close_ms)
        peak = ledger.peak_equity
        margin = self.margin()
        low = -math.inf
        if self._kill_switches:
            if peak != self._floor_peak or ledger.day_start_equity != self._floor_day_start:
                self._refloor()
            if equity <= self._floor or equity != equity:
                self._judge_kill_switches(close_ms, equity)
            if ledger.state is not _HALTED or ledger.halted_until is not None:
                low = self._floor + margin
            # else halted until an operator resumes: no kill switch can add to
            # that, however low equity goes, so no step needs settling for them.
        # Below this the run's max drawdown deepens (the report's every-close
        # figure). Flat, equity is the balance, exact: no margin needed.
        deeper = max(peak - ledger.max_drawdown_usdt, peak * (1.0 - ledger.max_drawdown))
        low_held = max(low, deeper + margin)
        low = low_held if ledger.positions else max(low, math.nextafter(deeper, -math.inf))
        if close_ms >= self.next_equity:
            self.journal.record_equity(close_ms, ledger.balance, equity, len(ledger.positions))
            self.next_equity = close_ms - close_ms % self._interval + self._interval
        due = min(self.next_equity, (close_ms // DAY_MS + 1) * DAY_MS)
        if ledger.halted_until is not None:
            due = min(due, ledger.halted_until)
        # Flat, equity is the balance, known exactly: only a higher one moves
        # the peak. Holding, an estimate may be off by its rounding: keep a margin.
        high_held = peak - margin
        high = high_held if ledger.positions else math.nextafter(peak, math.inf)
        self.bounds = (low, high, due, low_held, high_held)
        return equity

    def apply_controls(self) -> None:
        """Apply the operator's requests waiting in :attr:`controls`, at this step's close.

        Called by the drivers after the step is booked and settled, before
        strategies decide: a halt or a pause holds for this step's decisions;
        a flatten's exits are staged and commit with the step's orders.
        """
        waiting = list(self.controls)
        self.controls.clear()
        for action in waiting:
            action(self.step_close)

    def serve_inbox(self) -> None:
        """Run the control requests waiting in :attr:`inbox` and hand back their answers."""
        inbox = self.inbox
        while inbox:
            try:
                action, future = inbox.popleft()
            except IndexError:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(action())
            except Exception as exc:
                future.set_exception(exc)

    def take_inbox_items(self) -> list[tuple[Callable[[], Any], Future[Any]]]:
        """Empty the inbox without running anything (the host is stopping)."""
        taken = []
        while self.inbox:
            try:
                taken.append(self.inbox.popleft())
            except IndexError:
                break
        return taken

    def replace_kill_switches(self, kill_switches: Sequence[tuple[str, KillSwitch]]) -> None:
        """Judge these kill switches from now on (a reloaded risk chain's)."""
        self._kill_switches = tuple(kill_switches)
        # Forces _refloor at the next settle: the floor is the new switches'.
        self._floor_peak = math.nan
        self._floor = -math.inf

    def margin(self) -> float:
        """How far an equity estimate may be from the ledger's (see :meth:`settle`)."""
        return 1e-7 * max(abs(self.ledger.peak_equity), 1.0)

    def _refloor(self) -> None:
        ledger = self.ledger
        peak, day_start = ledger.peak_equity, ledger.day_start_equity
        self._floor_peak, self._floor_day_start = peak, day_start
        self._floor = max(ks.floor(peak, day_start) for _, ks in self._kill_switches)

    def _judge_kill_switches(self, close_ms: int, equity: float) -> None:
        ledger = self.ledger
        if ledger.state is _HALTED and ledger.halted_until is None:
            return  # already halted until an operator resumes: nothing can add to that
        for stage, switch in self._kill_switches:
            veto = switch.breach(close_ms, equity, ledger.peak_equity, ledger.day_start_equity)
            if veto is not None:
                self.pipeline.halt(Veto(stage, veto.reason, True, veto.halt_until), close_ms)

    # -- 4. decisions --------------------------------------------------------------

    def decide(
        self,
        name: str,
        on_candle: Callable[[Candle, Any], Sequence[object]],
        ctx: Any,
        candle: Candle,
    ) -> None:
        """Ask one strategy about one candle of the step and run what it returns.

        The call is marked for the watchdog (:mod:`garrison.engine.watchdog`):
        one over ``[engine] plugin_call_budget_ms`` is interrupted, or, where
        it cannot be, its answer is thrown away; either way it is a failure.
        """
        guard = self.bus.guard
        watchdog = self.pipeline.watchdog
        watchdog.seq += 1
        watchdog.active = name
        try:
            signals = on_candle(candle, ctx)
        except PLUGIN_ERRORS as exc:
            watchdog.active = None
            self.strategy_failed(name, exc)
            return
        watchdog.active = None
        if watchdog.overrun is not None and self.void_overrun(name):
            return
        if signals:
            try:
                self.pipeline.on_signals(
                    name, signals, candle.symbol, self.step_close, candle.close, ctx
                )
            except InvalidSignalError as exc:
                self.strategy_failed(name, exc)
                return
        # A strategy whose last on_outcome failed stays on its run of failures.
        if guard.failures and name not in self.pipeline.outcome_failing:
            guard.succeeded(name)

    def void_overrun(self, name: str) -> bool:
        """Count an overrun the watchdog could not interrupt; True if it was ``name``'s.

        The call ran over its budget and finished anyway: its answer is void.
        """
        # Only an overrun of this very call voids its answer (not a late one of
        # the same plugin's earlier on_outcome, say).
        pipeline = self.pipeline
        return pipeline.count_overrun(self.step_close) == pipeline.watchdog.seq

    def strategy_failed(self, name: str, exc: BaseException) -> bool:
        """Count a failure of strategy ``name``; True when it is now quarantined."""
        return self.bus.guard.failed(name, "on_candle", exc, self.step_close)

    # -- 5. commit and send ----------------------------------------------------------

    def end(self) -> None:
        """Handle the step's held signals (:meth:`Pipeline.handle_held`), journal the
        approved orders through the commit policy, then send them."""
        pipeline = self.pipeline
        if pipeline.held:
            pipeline.handle_held()
        staged = pipeline.take_staged()
        if not staged:
            return
        committed = self.policy.commit_step(self.step_close, staged, self.checkpoint)
        submit = self.venue.submit
        for order in committed:
            reports = submit(order)
            if reports:
                self.book(reports)

    def end_chunk(self) -> None:
        """At the end of a step, after a few thousand candles: let the policy commit."""
        self.policy.end_chunk(self.step_close, self.checkpoint)

    def record_last_equity(self) -> None:
        """At the end of the data: an equity row at the last step's close, whatever is due."""
        if self.step_close > 0:
            ledger = self.ledger
            self.journal.record_equity(
                self.step_close,
                ledger.balance,
                ledger.mark(self.step_close),
                len(ledger.positions),
            )

    def cancel_open(self, reason: str) -> int:
        """Cancel what is still unfilled at the venue (end of data); returns how many."""
        reports = self.venue.cancel_open(self.step_close, reason)
        self.book(reports)
        return len(reports)

    # -- restart state ----------------------------------------------------------------

    def checkpoint(self, committing: Sequence[StagedOrder] = ()) -> dict[str, Any]:
        """The state at the end of the current step, ``committing`` counted as sent."""
        codec = self._codec
        pipeline = self.pipeline
        ledger_state = self.ledger.snapshot_state()
        for saved in ledger_state["positions"].values():
            saved["position"] = codec.position(saved["position"])
        pending = [
            {
                "intent": codec.intent(o.intent),
                "order": codec.order(o.order),
                "signal": None if o.signal is None else codec.signal(o.signal),
                "durable": o.durable,
            }
            for o in self.venue.open_orders()
        ] + [
            {
                "intent": codec.intent(s.intent),
                "order": codec.order(s.order),
                "signal": None if s.signal is None else codec.signal(s.signal),
                "durable": self.policy.name == "step",
            }
            for s in committing
        ]
        guard = self.bus.guard
        return {
            "version": STATE_VERSION,
            "step_close": self.step_close,
            "steps": self.steps,
            "next_equity": self.next_equity,
            "ledger": ledger_state,
            "venue": self.venue.snapshot(),
            "pending_orders": pending,
            "phantoms": [codec.phantom(p) for p in self.phantoms.open_phantoms()],
            "sequences": {
                "signal": pipeline.signal_seq,
                "intent": pipeline.intent_seq,
            },
            "open_signals": {
                symbol: {
                    "signal_id": o.signal_id,
                    "signal": codec.signal(o.signal),
                    "score": o.score,
                }
                for symbol, o in pipeline.open_signals.items()
            },
            "entry_scores": dict(pipeline.entry_scores),
            "guard": {
                "failures": dict(guard.failures),
                "quarantined": sorted(guard.quarantined),
                "outcome_failing": sorted(pipeline.outcome_failing),
            },
            "halts": [list(h) for h in pipeline.halts],
            "driver": {} if self._driver_state is None else self._driver_state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Carry on from a checkpoint :meth:`checkpoint` made (restart or resumed replay)."""
        check_version(state, "restart checkpoint")
        codec = self._codec
        pipeline = self.pipeline
        ledger_state = state["ledger"]
        positions = {
            symbol: codec.to_position(saved["position"])
            for symbol, saved in ledger_state["positions"].items()
        }
        self.ledger.restore_state(ledger_state, positions)
        pending = revive_orders(
            [
                (
                    codec.to_intent(p["intent"]),
                    codec.to_order(p["order"]),
                    None if p["signal"] is None else codec.to_signal(p["signal"]),
                    bool(p["durable"]),
                )
                for p in state["pending_orders"]
            ]
        )
        self.venue.restore(state["venue"], pending)
        self.phantoms.restore([codec.to_phantom(p) for p in state["phantoms"]])
        pipeline.signal_seq = int(state["sequences"]["signal"])
        pipeline.intent_seq = int(state["sequences"]["intent"])
        pipeline.open_signals = {
            symbol: OpenSignal(o["signal_id"], codec.to_signal(o["signal"]), o["score"])
            for symbol, o in state["open_signals"].items()
        }
        pipeline.entry_scores = dict(state["entry_scores"])
        pipeline.halts = [(int(ts), str(message)) for ts, message in state["halts"]]
        guard = self.bus.guard
        guard.failures.clear()
        guard.failures.update({k: int(v) for k, v in state["guard"]["failures"].items()})
        guard.quarantined.clear()
        guard.quarantined.update(state["guard"]["quarantined"])
        pipeline.outcome_failing.clear()
        pipeline.outcome_failing.update(state["guard"].get("outcome_failing", ()))
        self.step_close = int(state["step_close"])
        self.steps = int(state["steps"])
        self.next_equity = int(state["next_equity"])
        # A live run carries on later than its checkpoint: its clock is already past it.
        if self.clock.now_ms() < self.step_close:
            self.clock.advance_to(self.step_close)


__all__ = ["StepProcessor"]
