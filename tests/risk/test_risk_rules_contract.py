"""Every host risk rule passes the test kit's RiskRuleContract, as a plugin's rule must."""

from __future__ import annotations

from garrison.risk.plugin import garrison_register
from garrison_api import Registry
from garrison_api.testing import RiskRuleContract


def _host_rules() -> dict[str, type]:
    registry = Registry()
    garrison_register(registry)
    return {entry.name: entry.factory for entry in registry if entry.kind == "risk_rule"}


# One Test class per rule, so pytest reports each rule's checks under its own name.
for _name, _rule in _host_rules().items():
    _cls = type(f"Test_{_name}", (RiskRuleContract,), {"make_rule": _rule})
    globals()[_cls.__name__] = _cls
del _name, _rule, _cls


def test_every_host_rule_has_a_contract_class() -> None:
    assert {f"Test_{name}" for name in _host_rules()} <= set(globals())
