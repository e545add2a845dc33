"""``crispml demo``: run the demo's phases on a home and write the HTML report."""

from __future__ import annotations

import time

import typer

from crispml.cli.generated import OutputFormat
from crispml.cli.state import state_of


def demo(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o",
                                        help="table or json (summary only)."),
) -> None:
    """Run the CRISP-DM demo on the Palmer penguins (shipped with a package): lake → … , with a report."""
    # imported here, not at the top: building the command line imports none of this (the phases pull in
    # pandas, which every other command can skip)
    from rich.console import Console
    from rich.markup import escape

    from crispml.demo.dataset import penguins
    from crispml.demo.deployment import deployment_endpoints
    from crispml.demo.evaluation import evaluation_registry
    from crispml.demo.modelling import modelling_training
    from crispml.demo.phases import PHASES, DemoState
    from crispml.demo.report import Section, write_report
    from crispml.demo.tuning import tuning_phase
    from crispml.render import render, table_of

    state = state_of(ctx)
    quiet = output.value == "json"
    console = Console(quiet=quiet)
    began = time.perf_counter()
    client = state.client()
    home = client.settings.home
    # paths are text, not markup: a home such as ~/work[2] must print as is
    console.print(f"[bold]crispml demo[/bold] — home {escape(str(home))} "
                  f"(lake {escape(client.settings.lake_url)})")
    demo_state = DemoState(client=client, console=console, dataset=penguins(),
                           started=client.platform.clock.now())
    sections: list[Section] = []
    phases = [*PHASES, modelling_training, evaluation_registry, deployment_endpoints, tuning_phase]
    for number, phase in enumerate(phases, start=1):
        title = (phase.__doc__ or phase.__name__).splitlines()[0]
        console.print(f"\n[bold cyan]phase {number}[/bold cyan] {title}")
        sections.append(phase(demo_state))
    events, token, invocations = [], None, 0
    while True:  # every page: the endpoint's invocations alone are over a thousand events
        page = client.audit.list_events(principal=client.principal, start_time=demo_state.started,
                                        max_results=1000, next_token=token)
        for event in page.events:
            if event.action == "serving:InvokeEndpoint":
                invocations += 1  # data events: counted, not listed one by one
            else:
                events.append(event)
        token = page.next_token
        if not token:
            break
    audit_rows = [{"time": e.event_time.strftime("%H:%M:%S"), "action": e.action, "resource": e.resource,
                   "outcome": e.outcome, "ms": e.duration_ms} for e in reversed(events)]
    sections.append(Section(title="Audit trail", text=f"Every operation the demo made, as the audit log recorded "
                                                      f"it; the {invocations:,} InvokeEndpoint data events are "
                                                      "counted, not listed.",
                            tables=[("Audit events", audit_rows)]))
    report = write_report(home / "reports" / "demo.html", "crispml demo", sections)
    elapsed = time.perf_counter() - began
    console.print("")
    console.print(table_of(audit_rows, title=f"audit events caused by this run ({len(audit_rows)}, and "
                                             f"{invocations:,} InvokeEndpoint data events not listed)"))
    summary = {"home": str(home), "phases": len(phases), "rows": demo_state.facts.get("rows"),
               "columns": demo_state.facts.get("columns"), "missing_values": demo_state.facts.get("missing"),
               "table": demo_state.facts.get("table"), "clean_table": demo_state.facts.get("clean_table"),
               "clean_rows": demo_state.facts.get("clean_rows"),
               "events_delivered": demo_state.facts.get("events_delivered"),
               "events_counted": demo_state.facts.get("events_counted"),
               "training": demo_state.facts.get("training"),
               "evaluation": demo_state.facts.get("evaluation"),
               "deployment": demo_state.facts.get("deployment"),
               "tuning": demo_state.facts.get("tuning"),
               "audit_events": len(audit_rows), "invoke_endpoint_events": invocations,
               "report": str(report), "seconds": round(elapsed, 2)}
    if quiet:
        render(summary, "json")
    else:
        console.print(f"\n[bold green]done[/bold green] in {elapsed:.1f}s — report: {escape(str(report))}")
