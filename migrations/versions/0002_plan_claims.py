"""Plans expire and are claimed: expires_at, dry_run, claimed_by, claimed_at; indexes for recovery.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

A plan made for an operator to apply (``neat plan``, ``global-manager --dry-run``) is ``dry_run``
and unclaimed; ``neat apply`` claims it with one conditional UPDATE (``claimed_by IS NULL`` and not
expired), so two applies of one plan cannot both run it. A plan the global manager executes itself
is claimed by it when it is stored. ``actions.status`` is indexed for the start-up reconciliation
(open actions), ``actions.vm_uuid`` for the cooldown (a VM's last migration).

Hand-written and frozen, like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    """UTC timestamp: timestamptz on PostgreSQL, DATETIME(6) on MySQL/MariaDB, text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("expires_at", _utc(), nullable=True))
        batch.add_column(sa.Column("dry_run", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("claimed_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("claimed_at", _utc(), nullable=True))
    op.create_index(op.f("ix_actions_status"), "actions", ["status"])
    op.create_index(op.f("ix_actions_vm_uuid"), "actions", ["vm_uuid"])


def downgrade() -> None:
    op.drop_index(op.f("ix_actions_vm_uuid"), table_name="actions")
    op.drop_index(op.f("ix_actions_status"), table_name="actions")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")
        batch.drop_column("dry_run")
        batch.drop_column("expires_at")
