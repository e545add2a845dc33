"""Managed tables: pyiceberg's SQL catalog tables in the metadata DB.

The two tables are pyiceberg's own (``pyiceberg.catalog.sql``, schema "v1"
with ``iceberg_type``), column for column, so pyiceberg's ``SqlCatalog`` reads
and writes them unchanged; crispml creates them here instead of letting
pyiceberg create them at run time. ``crispml.services.catalog.iceberg_store``
copies the same definitions into crispml's models.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('iceberg_tables',
    sa.Column('catalog_name', sa.String(length=255), nullable=False),
    sa.Column('table_namespace', sa.String(length=255), nullable=False),
    sa.Column('table_name', sa.String(length=255), nullable=False),
    sa.Column('metadata_location', sa.String(length=1000), nullable=True),
    sa.Column('previous_metadata_location', sa.String(length=1000), nullable=True),
    sa.Column('iceberg_type', sa.String(length=5), nullable=True),
    sa.PrimaryKeyConstraint('catalog_name', 'table_namespace', 'table_name', name=op.f('pk_iceberg_tables'))
    )
    op.create_table('iceberg_namespace_properties',
    sa.Column('catalog_name', sa.String(length=255), nullable=False),
    sa.Column('namespace', sa.String(length=255), nullable=False),
    sa.Column('property_key', sa.String(length=255), nullable=False),
    sa.Column('property_value', sa.String(length=1000), nullable=False),
    sa.PrimaryKeyConstraint('catalog_name', 'namespace', 'property_key',
                            name=op.f('pk_iceberg_namespace_properties'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('iceberg_namespace_properties')
    op.drop_table('iceberg_tables')
