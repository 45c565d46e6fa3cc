"""The risk veto chain: every rule judges every order intent.

The chain never stops at the first refusal, so the journal records every
reason an intent was refused. A rule that raises (or returns something that
is not a ``Veto``) refuses the intent: the chain fails closed and tells the
host through ``on_error`` so it can emit an event or quarantine the plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import attrs
from garrison_api import AccountState, OrderIntent, RiskRule, Veto

from garrison.risk.defaults import DEFAULT_RISK_CHAIN
from garrison.risk.rules import HOST_RULES, KillSwitch

#: Called with the stage name and the exception when a rule fails.
ErrorCallback = Callable[[str, Exception], None]


class RiskChain:
    """An ordered, named sequence of risk rules.

    ``stages`` pairs each stage name (what the journal and vetoes record; the
    profile's ``name`` of the rule) with a built rule. Names must be unique and
    not empty. ``on_error`` is called, after the failing rule's veto is made,
    for each rule that raises; an exception from ``on_error`` itself propagates.
    """

    __slots__ = ("_checks", "_exit_checks", "_on_error", "_stages")

    def __init__(
        self,
        stages: Sequence[tuple[str, RiskRule]],
        on_error: ErrorCallback | None = None,
    ) -> None:
        seen: set[str] = set()
        for index, stage in enumerate(stages):
            if not (isinstance(stage, tuple) and len(stage) == 2):
                raise TypeError(f"risk stage #{index} must be a (name, rule) pair, got {stage!r}")
            name, rule = stage
            if not isinstance(name, str) or not name:
                raise ValueError(f"risk stage #{index} needs a non-empty name, got {name!r}")
            if name in seen:
                raise ValueError(f"risk stage name {name!r} is used twice; names must be unique")
            if not callable(getattr(rule, "check", None)):
                raise TypeError(
                    f"risk stage {name!r}: {type(rule).__name__} has no check(intent, account)"
                )
            seen.add(name)
        self._stages: tuple[tuple[str, RiskRule], ...] = tuple(stages)
        # Bound once: evaluate() runs for every intent of a run.
        self._checks = tuple((name, rule, rule.check) for name, rule in self._stages)
        # A rule with ``judges_exits = False`` (the host's entry-only rules) would
        # pass every exit; any other rule, a plugin's included, judges them all.
        self._exit_checks = tuple(
            check for check in self._checks if getattr(check[1], "judges_exits", True) is not False
        )
        self._on_error = on_error

    @property
    def kill_switches(self) -> tuple[tuple[str, KillSwitch], ...]:
        """(stage name, rule) of every host rule that is also a kill switch, in order.

        Only the host's own rules: a plugin's code never runs on every mark.
        """
        host_rules = set(HOST_RULES.values())
        return tuple(
            (name, rule)
            for name, rule in self._stages
            if type(rule) in host_rules and isinstance(rule, KillSwitch)
        )

    @property
    def stages(self) -> tuple[tuple[str, RiskRule], ...]:
        """The (name, rule) pairs, in order."""
        return self._stages

    @property
    def names(self) -> tuple[str, ...]:
        """The stage names, in order."""
        return tuple(name for name, _ in self._stages)

    def __len__(self) -> int:
        return len(self._stages)

    def evaluate(self, intent: OrderIntent, account: AccountState) -> tuple[Veto, ...]:
        """Run every rule on ``intent``; return all vetoes (empty: approved), in stage order.

        Each veto carries its stage name. A failing rule yields a veto reading
        ``rule raised ExcType: message``.
        """
        vetoes: list[Veto] = []
        for name, rule, check in self._exit_checks if intent.reduce_only else self._checks:
            try:
                veto = check(intent, account)
                if veto is not None and not isinstance(veto, Veto):
                    raise TypeError(
                        f"{type(rule).__name__}.check returned {type(veto).__name__}, "
                        "expected Veto or None"
                    )
            except Exception as exc:
                # Fail closed: a rule that cannot judge refuses.
                vetoes.append(Veto(name, f"rule raised {type(exc).__name__}: {exc}"))
                if self._on_error is not None:
                    self._on_error(name, exc)
                continue
            if veto is not None:
                vetoes.append(veto if veto.stage == name else attrs.evolve(veto, stage=name))
        return tuple(vetoes)


def default_chain(on_error: ErrorCallback | None = None) -> RiskChain:
    """The host's rules in ``DEFAULT_RISK_CHAIN`` order, each with default Params."""
    return RiskChain([(name, HOST_RULES[name]()) for name in DEFAULT_RISK_CHAIN], on_error)


@attrs.frozen
class StartFailedParams:
    """Which rule could not start (its plugin name) and what its start raised."""

    rule: str
    error: str


class StartFailed:
    """Stands in the chain for a rule whose ``start(services)`` failed: refuses every entry.

    A limit that could not start must not silently go missing: the chain
    fails closed, as it does for a rule that raises in ``check``. Exits
    still pass (they only shrink risk), so positions can be closed.
    """

    Params: ClassVar[type] = StartFailedParams
    judges_exits: ClassVar[bool] = False

    def __init__(self, params: StartFailedParams) -> None:
        self.params = params

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        p = self.params
        return Veto("", f"rule {p.rule} failed to start ({p.error}); entries refused")
