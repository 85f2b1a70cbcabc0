"""The training process of one torchrun "node" in tests/test_multinode.py: trains each config it is
given, one after another, in this process (one torchrun start for several runs: seconds saved).

``python tests/multinode_worker.py A.yaml B.yaml ...`` under torchrun. With ``SEQLAB_TEST_HOLD``
set to ``<run_name>:<step>:<rank>``, the process of that global rank stops answering once the
checkpoint of that step of that run is saved, as a machine that has just died would: it writes
``hold.json`` (its pid and its torchrun agent's pid) into the run directory and sleeps, and the test
kills its node. It is the tests' own code, not seqlab's.
"""

from __future__ import annotations

import json
import os
import sys
import time

from omegaconf import OmegaConf

from seqlab.engine import trainer


def _hold_after_checkpoints(run_name: str, step: int, rank: int) -> None:
    """Make ``Trainer._save`` of that rank hang after that step's checkpoint of ``run_name``."""
    save = trainer.Trainer._save

    def save_then_hold(self, *args, **kwargs):
        save(self, *args, **kwargs)
        if (self.run_dir.name, self.state.step, self.rank) == (run_name, step, rank):
            mark = {"pid": os.getpid(), "agent_pid": os.getppid(), "rank": self.rank}
            (self.run_dir / "hold.json").write_text(json.dumps(mark))
            time.sleep(600)  # the test kills this process long before

    trainer.Trainer._save = save_then_hold


def main(paths: list[str]) -> None:
    """Train each config of ``paths`` in turn."""
    hold = os.environ.get("SEQLAB_TEST_HOLD")
    if hold:
        run_name, step, rank = hold.split(":")
        _hold_after_checkpoints(run_name, int(step), int(rank))
    for path in paths:
        trainer.run(OmegaConf.load(path))


if __name__ == "__main__":
    main(sys.argv[1:])
