"""Proposal PDF generation for a solar design, rendered with fpdf2 and stored in S3."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from asyncjobs.actions.base import ActionInput, JobContext

DEGRADATION_PER_YEAR = 0.005
YEARS = 25


class Customer(ActionInput):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field("", max_length=500)


class ProposalInput(ActionInput):
    customer: Customer
    system_size_kw: float = Field(gt=0, le=10_000, description="DC system size in kW.")
    module_count: int = Field(ge=1, le=100_000)
    module_model: str = Field(min_length=1, max_length=200)
    annual_production_kwh: float = Field(gt=0, le=100_000_000, description="Year-one production.")
    price_per_watt: float = Field(gt=0, le=100)
    incentives: float = Field(0, ge=0, description="Rebates and credits, in `currency`.")
    electricity_rate_per_kwh: float = Field(gt=0, le=10)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    notes: str = Field("", max_length=2000)


def financials(p: ProposalInput) -> dict[str, Any]:
    gross = p.system_size_kw * 1000 * p.price_per_watt
    net = max(gross - p.incentives, 0.0)
    year_one = p.annual_production_kwh * p.electricity_rate_per_kwh
    lifetime_kwh = sum(p.annual_production_kwh * (1 - DEGRADATION_PER_YEAR) ** y for y in range(YEARS))
    lifetime_savings = lifetime_kwh * p.electricity_rate_per_kwh
    return {
        "gross_price": round(gross, 2),
        "net_price": round(net, 2),
        "year_one_savings": round(year_one, 2),
        "lifetime_production_kwh": round(lifetime_kwh, 1),
        "lifetime_savings": round(lifetime_savings, 2),
        "simple_payback_years": round(net / year_one, 1) if year_one else None,
        "specific_yield_kwh_per_kwp": round(p.annual_production_kwh / p.system_size_kw, 1),
    }


def _latin1(text: str) -> str:
    # fpdf2's built-in fonts cover Latin-1 only; other characters print as "?" rather than fail.
    return text.encode("latin-1", "replace").decode("latin-1")


def render(p: ProposalInput, figures: dict[str, Any], reference: str) -> tuple[bytes, int]:
    from fpdf import FPDF  # imported here so only this action pays for it
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(f"Solar proposal for {p.customer.name}"))
    pdf.set_creator("asyncjobs proposal_pdf")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(0, 12, "Solar proposal", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 7, _latin1(f"Prepared for {p.customer.name}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if p.customer.address:
        pdf.multi_cell(0, 6, _latin1(p.customer.address), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(0, 6, f"Reference {reference}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    c = p.currency
    rows = [
        ("System size", f"{p.system_size_kw:,.2f} kW DC"),
        ("Modules", _latin1(f"{p.module_count} x {p.module_model}")),
        ("Year-one production", f"{p.annual_production_kwh:,.0f} kWh"),
        ("Specific yield", f"{figures['specific_yield_kwh_per_kwp']:,.0f} kWh/kWp"),
        ("Gross price", f"{figures['gross_price']:,.2f} {c}"),
        ("Incentives", f"{p.incentives:,.2f} {c}"),
        ("Net price", f"{figures['net_price']:,.2f} {c}"),
        ("Year-one savings", f"{figures['year_one_savings']:,.2f} {c}"),
        (f"{YEARS}-year savings", f"{figures['lifetime_savings']:,.2f} {c}"),
        ("Simple payback", f"{figures['simple_payback_years']} years"),
    ]
    with pdf.table(col_widths=(60, 110), text_align=("LEFT", "RIGHT")) as table:
        for label, value in rows:
            row = table.row()
            row.cell(label)
            row.cell(value)
    if p.notes:
        pdf.ln(6)
        pdf.set_font("Helvetica", "I", 10)
        pdf.multi_cell(0, 5, _latin1(p.notes))
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(
        0,
        4,
        f"Savings assume a constant electricity rate and {DEGRADATION_PER_YEAR:.1%} module "
        "degradation per year. Figures are estimates, not a guarantee of performance.",
    )
    return bytes(pdf.output()), pdf.pages_count


def run(inputs: ProposalInput, ctx: JobContext) -> dict[str, Any]:
    figures = financials(inputs)
    ctx.report_progress(20)
    data, pages = render(inputs, figures, reference=ctx.job_id)
    ctx.report_progress(80)
    file = ctx.save_file("proposal.pdf", data, "application/pdf")
    return {"pages": pages, "currency": inputs.currency, **figures, "files": [file]}
