"""`homecare dispatch solve|check`: the monthly engine on files in docs/dispatch.md's format.

The shell around dispatch/: reads and writes files and measures time, which the engine may not.
Imports nothing else from service, so solving a city's file starts no database or web machinery.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

dispatch_app = typer.Typer(
    help="Monthly dispatch engine: solve and check plans (docs/dispatch.md)", no_args_is_help=True
)


def _read_json(path: Path) -> dict:
    with path.open("rb") as f:
        return json.load(f)


@dispatch_app.command("solve")
def solve(
    instance_path: Annotated[Path, typer.Argument(metavar="INSTANCE.json", exists=True, dir_okay=False)],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="PLAN.json; stdout if absent")] = None,
    nearest: Annotated[int, typer.Option(help="nearest eligible providers per elder in the flow")] = 6,
    prove: Annotated[bool, typer.Option(help="compute the optimality bound (quality) too")] = True,
) -> None:
    """Plan a month: as many visits as possible, then the least distance; writes the plan JSON."""
    from dispatch.formats import instance_from_dict, plan_to_dict
    from dispatch.monthly import plan_month

    instance = instance_from_dict(_read_json(instance_path))
    started = time.perf_counter()
    plan = plan_month(instance, nearest=nearest, prove=prove)
    plan = dataclasses.replace(plan, solve_seconds=time.perf_counter() - started)
    text = json.dumps(plan_to_dict(plan), ensure_ascii=False, separators=(",", ":"))
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text, encoding="utf-8")
    quality = f", cost gap <= {plan.quality.cost_gap:.5%}" if plan.quality else ""
    typer.echo(
        f"{plan.visits_assigned} visits, cost {plan.cost:.3f} km{quality}, solved in {plan.solve_seconds:.2f} s",
        err=True,
    )


@dispatch_app.command("check")
def check(
    instance_path: Annotated[Path, typer.Argument(metavar="INSTANCE.json", exists=True, dir_okay=False)],
    plan_path: Annotated[Path, typer.Argument(metavar="PLAN.json", exists=True, dir_okay=False)],
) -> None:
    """Verify every rule of a plan independently of the solver; exit 1 on any violation."""
    from dispatch.check import check_plan
    from dispatch.formats import instance_from_dict

    violations = check_plan(instance_from_dict(_read_json(instance_path)), _read_json(plan_path))
    for violation in violations:
        typer.echo(violation)
    if violations:
        raise typer.Exit(1)
    typer.echo("ok: the plan keeps every rule", err=True)
