"""Same seed, same start: every shipped experiment (`seqlab list`), built tiny in two separate
processes with different hash seeds, and three times within each, has bit-identical initial
weights, and its first training step the same losses."""

from seqlab.config import list_experiments
from tiny_experiments import run_in_processes


def test_every_experiment_starts_from_the_same_weights_in_every_process(
    tiny_corpora, tmp_path_factory
):
    cases = [
        {"name": name, "experiment": name, "overrides": [], "mode": "init", "builds": 3}
        for name in list_experiments()
    ]
    # PYTHONHASHSEED differs: an order that depends on str hashes differs too (as would one that
    # depends on memory addresses, which differ from build to build anyway).
    jobs = [{"cases": cases, "env": {"PYTHONHASHSEED": seed}} for seed in ("1", "2")]
    first, second = run_in_processes(jobs, tmp_path_factory.mktemp("determinism"), tiny_corpora)
    problems = []
    for name in list_experiments():
        a, b = first[name], second[name]
        if not (a["ok"] and b["ok"]):
            problems.append(f"{name} failed:\n{a.get('error') or b.get('error')}")
        elif len(set(a["weights"] + b["weights"])) != 1:
            problems.append(f"{name}: initial weights differ: {a['weights']} vs {b['weights']}")
        elif a["first_step"] != b["first_step"]:
            problems.append(f"{name}: first step {a['first_step']} vs {b['first_step']}")
    assert not problems, "\n".join(problems)
