"""budgets in whole minor units, free-form customProperties keys, views rebuilt in the new shape

Revision ID: 0003
Revises: 0002

The budget was a double in major units (50000.0 USD); it becomes an exact integer of the
currency's minor unit (5000000 cents). A budget stored with more decimals than its currency has
(10.005 USD, which the first version accepted) is rounded to the minor unit, and the amount as it
was stored is kept among the project's free-form properties (budgetAmountBeforeMigration), so
that nothing is lost. Every stored view (a serialized Project) is rebuilt from the columns: the
message's customProperties became a Struct.
"""

import json
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from alembic import op

from portal_common.currencies import MINOR_DIGITS
from projects.api.mapping import project_message
from projects.domain.model import Budget, Project

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 1000
# Where a budget that did not fit its currency's minor unit keeps its amount as stored.
KEPT_AMOUNT = "budgetAmountBeforeMigration"

# The projects table as this revision leaves it (not the code's current tables.py, which later
# revisions may change).
_COLUMNS = (
    "id",
    "organization_id",
    "project_code",
    "subtype",
    "name",
    "description",
    "status",
    "start_date",
    "target_end_date",
    "priority",
    "progress",
    "client_org_id",
    "detailed_description",
    "created_by",
    "created_at",
    "updated_at",
)
projects = sa.table(
    "projects",
    *(
        sa.column(name)
        for name in (*_COLUMNS, "budget_amount", "budget_minor_units", "budget_currency", "free_properties", "view")
    ),
)


def minor_units(amount: float, currency: str) -> tuple[int, bool]:
    """The stored amount in whole minor units, and whether that is exact. repr gives the decimal
    the client wrote (the shortest that reads back as the stored double)."""
    exact = Decimal(repr(amount)).scaleb(MINOR_DIGITS[currency])
    rounded = exact.to_integral_value(ROUND_HALF_UP)
    return int(rounded), rounded == exact


def upgrade():
    op.add_column("projects", sa.Column("budget_minor_units", sa.BigInteger))
    op.add_column("projects", sa.Column("free_properties", sa.Text, nullable=False, server_default="{}"))
    connection = op.get_bind()
    last_id = ""
    while True:
        rows = connection.execute(
            sa.select(*(projects.c[name] for name in _COLUMNS), projects.c.budget_amount, projects.c.budget_currency)
            .where(projects.c.id > last_id)
            .order_by(projects.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            values = row._asdict()
            amount, currency = values.pop("budget_amount"), values.pop("budget_currency")
            project = Project(**values)
            if currency:
                units, exact = minor_units(amount, currency)
                project.budget = Budget(units, currency)
                if not exact:
                    project.free_properties[KEPT_AMOUNT] = amount
            connection.execute(
                projects.update()
                .where(projects.c.id == project.id)
                .values(
                    budget_minor_units=project.budget.minor_units if project.budget else None,
                    free_properties=json.dumps(project.free_properties),
                    view=project_message(project).SerializeToString(),
                )
            )
        last_id = rows[-1].id
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("budget_amount")


def downgrade():
    raise NotImplementedError(
        "the views of revision 0002 (a typed customProperties message) cannot be rebuilt "
        "by this code; restore a backup taken before the upgrade"
    )
