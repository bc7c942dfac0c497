"""posts owed to rooms (decisions, summaries, notes) are kept until the platform takes them

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox_post',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('room_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', storage.models.UTCDateTime(), nullable=False),
    sa.Column('lease_until', storage.models.UTCDateTime(), nullable=True),
    sa.Column('done_at', storage.models.UTCDateTime(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox_post', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_post_due', ['done_at', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_post_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_outbox_post_room', ['platform', 'room_id', 'done_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_post', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_post_room')
        batch_op.drop_index(batch_op.f('ix_outbox_post_incident_id'))
        batch_op.drop_index('ix_outbox_post_due')

    op.drop_table('outbox_post')
