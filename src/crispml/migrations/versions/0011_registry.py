"""Models, model package groups and versions (SageMaker Model Registry).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = sa.String(length=63).with_variant(sa.String(length=63, collation='C'), 'postgresql')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('registry_models',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('principal', sa.String(length=128), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_registry_models'))
    )
    op.create_table('registry_model_package_groups',
    sa.Column('name', _NAME, nullable=False),
    sa.Column('principal', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_registry_model_package_groups'))
    )
    op.create_table('registry_model_packages',
    sa.Column('group_name', _NAME, nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('approval_status', sa.String(length=32), nullable=False),
    sa.Column('approval_description', sa.Text(), nullable=True),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('lineage', sa.Text(), nullable=True),
    sa.Column('history', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('modified_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('group_name', 'version', name=op.f('pk_registry_model_packages'))
    )
    op.create_index('ix_registry_model_packages_status', 'registry_model_packages', ['approval_status'],
                    unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_registry_model_packages_status', table_name='registry_model_packages')
    op.drop_table('registry_model_packages')
    op.drop_table('registry_model_package_groups')
    op.drop_table('registry_models')
