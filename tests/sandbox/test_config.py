"""Sandbox settings: validation names the bad value and what is accepted."""

from __future__ import annotations

import pytest

from airflow_asf_ifg.sandbox.config import SandboxConfig


class TestSandboxConfig:
    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"port": 70000}, "port 70000 is out of range"),
            ({"granules": 0}, "granules 0 must be at least 1"),
            ({"product_bytes": 10}, "product_bytes 10 must be at least 1024"),
            ({"retrieval_seconds": -1}, "retrieval_seconds -1 must be greater than 0 seconds"),
            ({"archived_fraction": 1.5}, "archived_fraction 1.5 must be between 0 and 1"),
            ({"latency_ms": -5}, "latency_ms -5 must not be negative"),
            ({"era": "2019"}, "era '2019' is not one the sandbox knows; accepted: today, 2018"),
            ({"era": "Today"}, "era 'Today' is not one the sandbox knows; accepted: today, 2018"),
            ({"tea": "yes"}, "tea 'yes' must be true or false"),
        ],
    )
    def test_invalid_values(self, changes, message):
        with pytest.raises(ValueError, match=message.replace("(", r"\(")):
            SandboxConfig(**changes)

    def test_runtime_update_keeps_other_fields_and_validates(self):
        config = SandboxConfig(granules=3)
        changed = config.updated({"fault_rate": 0.5})
        assert changed.fault_rate == 0.5 and changed.granules == 3 and config.fault_rate == 0.0
        with pytest.raises(ValueError, match="cannot change \\['seed'\\] at runtime"):
            config.updated({"seed": 1})
        with pytest.raises(ValueError, match="reset_rate 2 must be between 0 and 1"):
            config.updated({"reset_rate": 2})

    def test_eras(self):
        assert (SandboxConfig().era, SandboxConfig().tea) == ("today", False)
        assert SandboxConfig(era=2018).era == "2018"  # as JSON or a marker may give it
        changed = SandboxConfig().updated({"era": "2018", "tea": True})
        assert (changed.era, changed.tea) == ("2018", True)
        with pytest.raises(ValueError, match="era 'x' is not one the sandbox knows"):
            SandboxConfig().updated({"era": "x"})
