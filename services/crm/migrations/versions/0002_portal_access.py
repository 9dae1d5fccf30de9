"""contacts: portal_access, the grant of a contact's portal user to its CRM organization's records

Revision ID: 0002
Revises: 0001

Every existing contact gets "contact" (own records only). Its stored view (a serialized
portal.crm.v1.Contact) gets the same value appended as field 20: a serialized message followed by
one more field is that message with the field set, so no code of today is needed to rewrite it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Field 20, length-delimited (tag 20 << 3 | 2 = 162 as a varint), 7 bytes: "contact".
_PORTAL_ACCESS_CONTACT = bytes([0xA2, 0x01, 0x07]) + b"contact"
_BATCH = 1000


def upgrade():
    with op.batch_alter_table("contacts") as table:
        table.add_column(sa.Column("portal_access", sa.String(20), nullable=False, server_default="contact"))
    connection = op.get_bind()
    contacts = sa.table("contacts", sa.column("id", sa.String), sa.column("view", sa.LargeBinary))
    last = ""
    while rows := connection.execute(
        sa.select(contacts.c.id, contacts.c.view).where(contacts.c.id > last).order_by(contacts.c.id).limit(_BATCH)
    ).all():
        connection.execute(
            contacts.update().where(contacts.c.id == sa.bindparam("key")),
            [{"key": row.id, "view": bytes(row.view) + _PORTAL_ACCESS_CONTACT} for row in rows],
        )
        last = rows[-1].id


def downgrade():
    with op.batch_alter_table("contacts") as table:
        table.drop_column("portal_access")
